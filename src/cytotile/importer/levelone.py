"""Level 1 of a JPEG-tiled source from libjpeg's 1/2 scaled decoding of its tiles, and the
source's histogram counted from it (PIMS type ``FAST``).

libjpeg decodes a tile at half size with a reduced IDCT (4x4 from each 8x8 block's low
frequencies): the entropy decoding is the same, the rest a fraction of a full decode, and no
full-size pixels are made or halved. It is not the 2x2 box mean bit for bit (a low-pass of the
block, not of each 2x2 box) but as close to the box-downsampled reference (docs/quality.md).
Tiles at the image's right or bottom edge are decoded in full and box-halved instead: their
pixels beyond the image (whatever the scanner padded them with) must not bleed into level 1,
and an odd last row or column is paired with itself, as :func:`~cytotile.importer.lower.halve`
does (level 1 is ceil(W/2) x ceil(H/2)).

The histogram is level 0's as level 1 estimates it: each level-1 pixel stands for the 2x2
level-0 pixels it averages (4 counts; 2 on an odd last column or row, 1 at their corner), so
that the totals are exactly W x H and the shape close to the complete histogram's (1/4 of the
pixels, averaged: a slightly narrower spread); minimum and maximum are level 1's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cytotile.importer.sourcetiles import SourceTiles, halve_tiles
from cytotile.pyramid import ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.retile import JpegLevel

#: libvips counts a strip of this many samples or more (about 1 ns a sample, 2-4x faster than
#: numpy's bincount, but 0.8 ms a call: numpy's is faster under ~400,000)
VIPS_MIN_SAMPLES = 1 << 18

#: a level of at most this many pixels is decoded in full (a few dozen tiles: milliseconds):
#: its histogram counts every pixel (``COMPLETE``), its level 1 is the 2x2 mean
COMPLETE_PIXELS = 4_000_000


def half_strips(level: JpegLevel) -> Iterator[tuple[np.ndarray, int]]:
    """Level 1, one row of source tiles at a time: (strip, height) where ``strip`` is
    (ceil(height / 2), ceil(W / 2), samples), contiguous, and ``height`` the row's height at
    level 0 (the tile's, or the image's remainder)."""
    import numpy as np

    samples = 1 if level.photometric == 1 else 3
    tile_w, tile_h = level.tile_width, level.tile_height
    half_w = tile_w // 2
    half = np.empty((level.n_tx, tile_h // 2, half_w, samples), np.uint8)
    full = np.empty((1, tile_h, tile_w, samples), np.uint8)  # an edge tile, decoded in full
    last_w = level.width - (level.n_tx - 1) * tile_w
    level1_w = ceil_div(level.width, 2)
    whole = level1_w // half_w  # tiles whose halves are whole in level 1
    with SourceTiles(level) as source:
        for ty in range(level.n_ty):
            height = min(tile_h, level.height - ty * tile_h)
            for tx in range(level.n_tx):
                width = last_w if tx == level.n_tx - 1 else tile_w
                if (width, height) == (tile_w, tile_h):
                    source.decode(tx, ty, half[tx], half=True)
                    continue
                source.decode(tx, ty, full[0])
                halved = halve_tiles(full, height, width)
                half[tx, : halved.shape[0], : halved.shape[1]] = halved
            rows = ceil_div(height, 2)
            strip = np.empty((rows, level1_w, samples), np.uint8)  # the tiles side by side
            laid = strip[:, : whole * half_w].reshape(rows, whole, half_w, samples)
            laid[...] = half[:whole, :rows].transpose(1, 0, 2, 3)
            if whole < level.n_tx:
                strip[:, whole * half_w :] = half[whole, :rows, : level1_w - whole * half_w]
            yield strip, height


def count_half(counts: np.ndarray, strip: np.ndarray, height: int, width: int) -> None:
    """Add to ``counts`` (256 values, bands) the level-0 pixels of a row ``height`` x ``width``
    as its level-1 ``strip`` (:func:`half_strips`) estimates them: 4 counts a level-1 pixel, 2 on
    an odd last column or row (one level-0 column or row), 1 at their corner."""
    import numpy as np
    import pyvips

    rows, columns = height // 2, width // 2  # level-1 pixels of 2x2 level-0 pixels
    bands = strip.shape[2]
    edges = []  # (pixels, weight) counted by numpy: small parts
    if rows * columns and rows * columns * bands >= VIPS_MIN_SAMPLES:
        image = pyvips.Image.new_from_memory(
            strip.data, strip.shape[1], strip.shape[0], bands, "uchar"
        )
        if (columns, rows) != (strip.shape[1], strip.shape[0]):
            image = image.crop(0, 0, columns, rows)
        counts += 4 * image.hist_find().numpy().reshape(-1, bands).astype(np.int64)
    elif rows and columns:  # an NDPI interval's 4 rows
        edges.append((strip[:rows, :columns], 4))
    if width % 2:
        edges.append((strip[:rows, columns], 2))
    if height % 2:
        edges.append((strip[rows, :columns], 2))
        if width % 2:
            edges.append((strip[rows, columns:], 1))
    for pixels, weight in edges:
        for b in range(bands):
            counts[:, b] += weight * np.bincount(pixels[..., b].ravel(), minlength=256)
