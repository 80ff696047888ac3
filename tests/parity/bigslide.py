"""The issue's 40000x30000 pyramidal TIFF, written in seconds: its level 0 repeats one 4096x4096
block of synthetic tissue (``cytotile.synthetic.tissue_image``), so every page holds only a few
hundred distinct tiles, each JPEG-encoded once and written as is (tifffile's pre-compressed
tiles). Its lower pages are exact area averages of level 0 (``area``) or every 2^k-th pixel of
level 0 (``decimated``, what an aliasing writer gives): the low-resolution question of issue
13 compares both. Pages follow each other (reduced pages, as libvips writes a pyramid), which
is how PIMS's PYRTIFF reads a pyramid (``tiffload page=``).

The recording (scripts/record_pims.py) and the replay test write the same bytes."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyvips

WIDTH, HEIGHT = 40000, 30000
BLOCK = 4096  # the period of level 0, in level-0 pixels
TILE = 256
QUALITY = 85


@lru_cache(maxsize=1)
def _base() -> pyvips.Image:
    from cytotile.synthetic import tissue_image

    pixels = tissue_image(BLOCK, BLOCK, seed=13).numpy()
    return pyvips.Image.new_from_array(pixels).copy(interpretation="srgb")


def _block(method: str, level: int) -> np.ndarray:
    """One period of page ``level``: (BLOCK / 2^level) square, uint8 RGB."""
    base = _base()
    factor = 2**level
    if level == 0:
        small = base
    elif method == "area":
        small = base.shrink(factor, factor)
    else:
        small = base.subsample(factor, factor)
    return np.asarray(small.cast("uchar").numpy(), dtype=np.uint8)


def _tile_bytes(block: np.ndarray) -> dict[tuple[int, int], bytes]:
    """The encoded tiles of one period, by (tile_x, tile_y) inside it."""
    import imagecodecs

    side = block.shape[0]
    if side < TILE:  # the period is smaller than a tile: every tile is the same
        block = np.tile(block, (TILE // side, TILE // side, 1))
    out = {}
    for ty in range(block.shape[0] // TILE):
        for tx in range(block.shape[1] // TILE):
            tile = np.ascontiguousarray(
                block[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE]
            )
            out[tx, ty] = imagecodecs.jpeg8_encode(tile, level=QUALITY, subsampling="444")
    return out


def _tiles(encoded: dict[tuple[int, int], bytes], width: int, height: int) -> Iterator[bytes]:
    period = max(tx for tx, _ in encoded) + 1
    for ty in range(-(-height // TILE)):
        for tx in range(-(-width // TILE)):
            yield encoded[tx % period, ty % period]


def levels() -> list[tuple[int, int]]:
    """The pages' sizes: halved (rounded up) until one tile holds the image."""
    sizes = [(WIDTH, HEIGHT)]
    while max(sizes[-1]) > TILE:
        w, h = sizes[-1]
        sizes.append((-(-w // 2), -(-h // 2)))
    return sizes


def write(path: Path, method: str = "area") -> Path:
    """Write the slide at ``path`` (kept when it exists: the bytes are deterministic)."""
    import tifffile

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    with tifffile.TiffWriter(tmp, bigtiff=False) as tif:
        for level, (width, height) in enumerate(levels()):
            encoded = _tile_bytes(_block(method, level))
            tif.write(
                _tiles(encoded, width, height),
                shape=(height, width, 3),
                dtype=np.uint8,
                tile=(TILE, TILE),
                compression="jpeg",
                photometric="ycbcr",
                subsampling=(1, 1),
                subfiletype=1 if level else 0,
                software=False,
                metadata=None,
            )
    tmp.replace(path)
    return path


def full_resolution(method: str = "area") -> pyvips.Image:
    """Level 0 as pixels (lazy: the block repeated), for downscales of the truth."""
    block = pyvips.Image.new_from_array(_block(method, 0)).copy(interpretation="srgb")
    across, down = -(-WIDTH // BLOCK), -(-HEIGHT // BLOCK)
    return block.replicate(across, down).crop(0, 0, WIDTH, HEIGHT)
