"""The plane path (issue 7): a 3-channel 16-bit additive composite tile against a decoded RGB
tile (gamma: no passthrough), both through the pipeline on local pyramids. Target: within 3x.

    python -m bench.planes
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.common import Row, Section, median_per_item
from cytotile.formats.base import ImageMetadata, Source

SIDE = 1024
NOISE = 0.005  # shot/read noise of a fluorescence camera: about 300 counts of 60000


class _Planes(Source):
    def __init__(self, meta: ImageMetadata, planes: dict[tuple[int, int, int], Any]) -> None:
        self.metadata, self.planes = meta, planes

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> Any:
        import pyvips

        return pyvips.Image.new_from_array(self.planes[(c, z, t)])


def _texture(seed: int, top: int, dtype: str) -> Any:
    import numpy as np

    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    rng = np.random.default_rng(seed)
    wave = 0.5 + 0.25 * np.sin(x * rng.uniform(0.01, 0.03)) + 0.25 * np.cos(y * 0.02)
    noise = rng.normal(0, NOISE, (SIDE, SIDE))
    return np.rint(np.clip(wave + noise, 0, 1) * top).astype(dtype)


def _deploy(root: Path, name: str, source: Source) -> str:
    from cytotile.importer.convert import convert
    from cytotile.manifest import pyramid_key

    key = pyramid_key(f"upload-{name}")
    (root / key).parent.mkdir(parents=True, exist_ok=True)
    convert(source, root / key)
    return f"upload-{name}"


def run(n_tiles: int = 40) -> Section:
    import numpy as np

    from cytotile.pipeline import outputs
    from cytotile.pipeline.args import Args
    from cytotile.pipeline.image import ImageView
    from cytotile.pipeline.params import parse_image_params
    from cytotile.storage.local import LocalStorage

    section = Section("Plane path: composite tiles", "x decoded RGB tile")
    with tempfile.TemporaryDirectory() as tmp:
        root, storage = Path(tmp), LocalStorage(tmp)
        rgb = np.stack([_texture(k, 255, "uint8") for k in range(3)], axis=2)
        meta = ImageMetadata("BENCH", SIDE, SIDE, 3, 1, 3, "uint8", 8)
        rgb_id = _deploy(root, "rgb", _Planes(meta, {(0, 0, 0): rgb}))
        meta16 = ImageMetadata("BENCH", SIDE, SIDE, 3, 3, 1, "uint16", 16)
        planes = {(c, 0, 0): _texture(10 + c, 60000, "uint16") for c in range(3)}
        multi_id = _deploy(root, "multi", _Planes(meta16, planes))
        opts = outputs.Options(outputs.Format.JPEG, 95)
        tiles = [(tx, ty) for ty in range(4) for tx in range(4)] * (n_tiles // 16 + 1)

        def timed(upload: str, query: list[tuple[str, str]]) -> float:
            view = ImageView.open(storage, upload)
            tier = view.pyramid.at_level(0)
            params = parse_image_params(Args.from_query(query))
            return median_per_item(
                lambda t: outputs.normalized_tile(view, tier, t[0], t[1], params, opts),
                tiles[:n_tiles],
                warmup=4,
            )

        base = timed(rgb_id, [("gammas", "1.5")])
        section.rows.append(Row("decoded RGB tile (gamma 1.5)", base, "s", 1.0))
        for label, query in (
            ("3-channel uint16 composite (default colours)", []),
            # colours that mix: each channel adds to two bands (the primaries do not mix)
            ("  cyan, magenta, yellow (additive)", [("colormaps", "CYAN,MAGENTA,YELLOW")]),
            (
                "  + per-channel min/max and gamma",
                [
                    ("min_intensities", "100,200,300"),
                    ("max_intensities", "50000"),
                    ("gammas", "0.8"),
                ],
            ),
        ):
            value = timed(multi_id, query)
            ratio = value / base
            section.rows.append(Row(label, value, "s", ratio, "<= 3x", ratio <= 3.0))
    return section


if __name__ == "__main__":
    for row in run().rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        print(f"{row.name:50s} {row.value * 1000 if row.value else 0:7.2f} ms {ratio}")
