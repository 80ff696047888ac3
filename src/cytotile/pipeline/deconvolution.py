"""Colour deconvolution (Ruifrok & Johnston, 2001): PIMS's ``PIXEL`` filters.

A stained RGB pixel follows Beer-Lambert: its optical density ``od = -log(rgb)`` (per band) is
the sum of each stain's concentration times the stain's OD vector. With the stain vectors as
rows of ``M`` (``rgb_from_stains``), ``od = c @ M``, so ``c = od @ inv(M)``. A filter keeps one
stain, zeroes the others (and negative concentrations), and turns that stain alone back into
RGB: the image as if only that stain had been used.

The conventions are scikit-image's (``separate_stains`` / ``combine_stains``, which PIMS uses):
RGB in [0, 1], floored at 1e-6, densities in units of ``-log(1e-6)`` so that a concentration of 1
along a unit vector is (near) black. Stain vectors: scikit-image's H&E DAB (Ruifrok & Johnston),
H DAB and Giemsa (methyl blue + eosin); H&E from Fiji's Colour Deconvolution plugin; the third
vector of two-stain systems is the cross product of the first two. RGB- and CMY- are PIMS's
subtractive primaries. Vectorized: one (n, 3) x (3, 3) product per tile.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Vector = tuple[float, float, float]
#: stain system: its stain vectors (a third None: the cross product of the first two)
SYSTEMS: dict[str, tuple[Vector, Vector, Vector | None]] = {
    "HEDAB": ((0.65, 0.70, 0.29), (0.07, 0.99, 0.11), (0.27, 0.57, 0.78)),
    "HDAB": ((0.650, 0.704, 0.286), (0.268, 0.570, 0.776), None),
    "GIEMSA": ((0.834750233, 0.513556283, 0.196330403), (0.092789, 0.954111, 0.283111), None),
    "HE": ((0.644211, 0.716556, 0.266844), (0.092789, 0.954111, 0.283111), None),
    "RGB": ((0.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, 0.0)),
    "CMY": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
}
#: PIMS's filter id: (stain system, stain index, name)
FILTERS: dict[str, tuple[str, int, str]] = {
    "HEDAB-HEMATOXYLIN": ("HEDAB", 0, "H&E DAB -> Hematoxylin"),
    "HEDAB-EOSIN": ("HEDAB", 1, "H&E DAB -> Eosin"),
    "HEDAB-DAB": ("HEDAB", 2, "H&E DAB -> DAB"),
    "GIEMSA-METHYLBLUE": ("GIEMSA", 0, "Giemsa -> Methyl Blue"),
    "GIEMSA-EOSIN": ("GIEMSA", 1, "Giemsa -> Eosin"),
    "HDAB-HEMATOXYLIN": ("HDAB", 0, "H DAB -> Hematoxylin"),
    "HDAB-DAB": ("HDAB", 1, "H DAB -> DAB"),
    "HE-HEMATOXYLIN": ("HE", 0, "H&E -> Hematoxylin"),
    "HE-EOSIN": ("HE", 1, "H&E -> Eosin"),
    "RGB-RED": ("RGB", 0, "RGB- -> Red"),
    "RGB-GREEN": ("RGB", 1, "RGB- -> Green"),
    "RGB-BLUE": ("RGB", 2, "RGB- -> Blue"),
    "CMY-CYAN": ("CMY", 0, "CMY- -> Cyan"),
    "CMY-MAGENTA": ("CMY", 1, "CMY- -> Magenta"),
    "CMY-YELLOW": ("CMY", 2, "CMY- -> Yellow"),
}
FLOOR = 1e-6


def describe(fid: str) -> str:
    system, _, name = FILTERS[fid]
    return (
        f"Colour deconvolution (Ruifrok & Johnston): the image as if stained with "
        f"{name.split(' -> ')[1]} only, separated from the {system} stain system."
    )


@functools.lru_cache(maxsize=16)
def matrices(system: str) -> tuple[np.ndarray, np.ndarray]:
    """(rgb_from_stains, stains_from_rgb) of a stain system, float64, read-only."""
    import numpy as np

    first, second, third = SYSTEMS[system]
    rows = [first, second, third if third is not None else tuple(np.cross(first, second))]
    forward = np.array(rows, dtype=np.float64)
    inverse = np.linalg.inv(forward)
    for m in (forward, inverse):
        m.setflags(write=False)
    return forward, inverse


def concentrations(rgb: np.ndarray, system: str) -> np.ndarray:
    """(..., 3) stain concentrations (>= 0) of (..., 3) RGB in [0, 1], in the input's float
    type (float32 tiles: float32 maths)."""
    import numpy as np

    _, inverse = matrices(system)
    dtype = rgb.dtype if rgb.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    od = np.log(np.maximum(rgb.astype(dtype, copy=False), dtype.type(FLOOR)))
    od *= dtype.type(1 / np.log(FLOOR))
    stains: np.ndarray = np.maximum(od @ inverse.astype(dtype), 0)
    return stains


def combine(stains: np.ndarray, system: str) -> np.ndarray:
    """(..., 3) RGB in [0, 1] of (..., 3) stain concentrations (Beer-Lambert)."""
    import numpy as np

    forward, _ = matrices(system)
    log_rgb = stains @ forward.astype(stains.dtype)
    log_rgb *= stains.dtype.type(np.log(FLOOR))
    rgb: np.ndarray = np.clip(np.exp(log_rgb), 0.0, 1.0)
    return rgb


def apply(fid: str, rgb: np.ndarray) -> np.ndarray:
    """Filter ``fid`` on (h, w, 3) RGB in [0, 1] (grey is taken as RGB): float32 RGB."""
    import numpy as np

    system, stain, _ = FILTERS[fid]
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
    c = concentrations(rgb, system)
    alone = np.zeros_like(c)
    alone[..., stain] = c[..., stain]
    out: np.ndarray = combine(alone, system).astype(np.float32)
    return out
