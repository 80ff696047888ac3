"""Write ``src/cytotile/pipeline/colormaps.json``: PIMS's 82 named colormaps as 256-entry tables.

Run once, in any environment that has matplotlib (it is not a dependency of cytotile)::

    python -m venv /tmp/mpl && /tmp/mpl/bin/pip install matplotlib
    /tmp/mpl/bin/python scripts/make_colormaps.py

The serving side reads the JSON file only (pipeline/colormaps.py): each map is 256 RGB triplets,
``rint(255 * value)`` of matplotlib's table at 256 samples (qualitative maps resampled to 256
entries, as PIMS does), base64 of 768 bytes. Inverted maps (``!NAME``) are these tables
reversed, which is what matplotlib's ``NAME_r`` gives at 256 samples. CSS colour names (constant
colormaps) come from matplotlib's CSS4 table.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.colors import CSS4_COLORS, LinearSegmentedColormap, to_hex

OUT = Path(__file__).resolve().parent.parent / "src" / "cytotile" / "pipeline" / "colormaps.json"

#: PIMS's list, by PIMS type, in PIMS's order (pims/processing/colormaps.py)
MAPS: dict[str, list[str]] = {
    "PERCEPTUAL_UNIFORM": ["viridis", "plasma", "inferno", "magma", "cividis"],
    "SEQUENTIAL": [
        "Greys", "Purples", "Blues", "Greens", "Oranges", "Reds", "YlOrBr", "YlOrRd", "OrRd",
        "PuRd", "RdPu", "BuPu", "GnBu", "PuBu", "YlGnBu", "PuBuGn", "BuGn", "YlGn", "binary",
        "gist_yarg", "gist_gray", "bone", "spring", "summer", "autumn", "winter", "cool",
        "Wistia", "hot", "afmhot", "gist_heat", "copper", "heatmap",
    ],
    "DIVERGING": [
        "PiYG", "PRGn", "BrBG", "PuOr", "RdGy", "RdBu", "RdYlBu", "RdYlGn", "Spectral",
        "coolwarm", "bwr", "seismic",
    ],
    "CYCLIC": ["twilight", "twilight_shifted", "hsv"],
    "QUALITATIVE": [
        "Pastel1", "Pastel2", "Paired", "Accent", "Dark2", "Set1", "Set2", "Set3", "tab10",
        "tab20", "tab20b", "tab20c",
    ],
    "MISCELLANEOUS": [
        "flag", "prism", "ocean", "gist_earth", "terrain", "gist_stern", "gnuplot", "gnuplot2",
        "CMRmap", "cubehelix", "brg", "gist_rainbow", "rainbow", "jet", "turbo",
        "nipy_spectral", "gist_ncar",
    ],
}  # fmt: skip
#: PIMS's own "heatmap": blue, cyan, green, yellow, red, linearly interpolated
HEATMAP = [(0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (0.0, 1.0, 0.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0)]


def table(name: str, kind: str) -> np.ndarray:
    if name == "heatmap":
        cmap = LinearSegmentedColormap.from_list("heatmap", HEATMAP, N=256)
    else:
        cmap = matplotlib.colormaps[name]
        if kind == "QUALITATIVE" or cmap.N != 256:
            cmap = cmap.resampled(256)
    rgba = np.asarray(cmap(np.arange(256)), dtype=np.float64)
    return np.rint(rgba[:, :3] * 255).astype(np.uint8)


def main() -> None:
    maps = []
    for kind, names in MAPS.items():
        for name in names:
            lut = table(name, kind)
            assert lut.shape == (256, 3)
            maps.append({
                "id": name.upper(),
                "name": name.replace("_", " ").title(),
                "type": kind,
                "lut": base64.b64encode(lut.tobytes()).decode("ascii"),
            })  # fmt: skip
    css = {name.upper(): to_hex(value) for name, value in sorted(CSS4_COLORS.items())}
    data = {"source": f"matplotlib {matplotlib.__version__}", "colormaps": maps, "css": css}
    OUT.write_text(json.dumps(data, indent=0) + "\n")
    print(f"{len(maps)} colormaps, {len(css)} CSS colours -> {OUT}")


if __name__ == "__main__":
    main()
