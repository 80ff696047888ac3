"""Synthetic tissue-like slides for the demo, tests and benchmarks (no real slide needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyvips


def tissue_image(width: int, height: int, seed: int = 1) -> pyvips.Image:
    """An RGB uchar image that looks and compresses like H&E tissue: pink stroma with purple
    nuclei in blobs over a near-white background. Lazily evaluated, so it streams."""
    import pyvips

    small_w, small_h = max(1, width // 16), max(1, height // 16)
    blobs = pyvips.Image.perlin(small_w, small_h, cell_size=96, seed=seed)
    blobs = blobs.resize(width / small_w, vscale=height / small_h, kernel="linear")
    blobs = blobs.crop(0, 0, min(width, blobs.width), min(height, blobs.height))
    blobs = blobs.embed(0, 0, width, height, extend="copy")
    ramp = (blobs - 0.02) * 8
    tissue = (ramp > 0).ifthenelse((ramp > 1).ifthenelse(1.0, ramp), 0.0)  # 0 outside, 1 inside
    cells = pyvips.Image.worley(width, height, cell_size=18, seed=seed + 1)
    nuclei = (cells < 2.6).ifthenelse(1.0, 0.0).gaussblur(0.8)
    grain = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0, seed=seed + 2)
    background = [242, 240, 244]
    stroma = [232, 150, 190]
    nucleus = [95, 60, 145]
    bands = []
    for b in range(3):
        inside = stroma[b] * (1 - nuclei) + nucleus[b] * nuclei
        value = background[b] * (1 - tissue) + inside * tissue + grain * tissue
        bands.append(value)
    return bands[0].bandjoin(bands[1:]).cast("uchar").copy(interpretation="srgb")


def save_slide(image: pyvips.Image, path: Path, tile: int = 256, quality: int = 90) -> Path:
    """Write ``image`` as a tiled JPEG TIFF (not pyramidal), atomically: what a scanner's export
    or a plain slide looks like before import."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        image.tiffsave(
            str(tmp),
            tile=True,
            tile_width=tile,
            tile_height=tile,
            compression="jpeg",
            Q=quality,
            bigtiff=True,
            keep="none",
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_tissue_slide(path: Path, width: int, height: int, seed: int = 1) -> Path:
    """Write a synthetic slide once (kept: later calls return the existing file)."""
    return path if path.exists() else save_slide(tissue_image(width, height, seed), path)
