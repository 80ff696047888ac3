"""Level 1 of a JPEG-tiled source from libjpeg's 1/2 scaled decoding of its tiles (when the
re-tiling's coefficients cannot make it: :mod:`cytotile.importer.coefhalf`; and the tiles the
image's edge cuts, either way), and the source's histogram counted from it (PIMS ``FAST``).

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
from typing import TYPE_CHECKING, Any

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
    with SourceTiles(level) as source:
        halves = HalfTiles(source)
        for ty in range(level.n_ty):
            yield halves.row(ty)


class HalfTiles:
    """Source tiles at half scale: whole ones by libjpeg's 1/2 scaled decoding, those the
    image's edge cuts decoded in full and box-halved."""

    def __init__(self, source: SourceTiles) -> None:
        import numpy as np

        level = self.level = source.level
        self.source = source
        self.samples = 1 if level.photometric == 1 else 3
        tile_w, tile_h = level.tile_width, level.tile_height
        self.half = np.empty((level.n_tx, tile_h // 2, tile_w // 2, self.samples), np.uint8)
        self.full = np.empty((1, tile_h, tile_w, self.samples), np.uint8)
        self.last_w = level.width - (level.n_tx - 1) * tile_w

    def edge(self, tx: int, ty: int) -> np.ndarray:
        """Tile (tx, ty), cut by the image's edge, decoded in full and box-halved: (ceil(h /
        2), ceil(w / 2), samples) of its part inside the image."""
        level = self.level
        height = min(level.tile_height, level.height - ty * level.tile_height)
        width = self.last_w if tx == level.n_tx - 1 else level.tile_width
        self.source.decode(tx, ty, self.full[0])
        return halve_tiles(self.full, height, width)

    def row(self, ty: int) -> tuple[np.ndarray, int]:
        """Level 1's rows of source row ``ty`` (:func:`half_strips`)."""
        import numpy as np

        level, half = self.level, self.half
        tile_w, tile_h = level.tile_width, level.tile_height
        half_w = tile_w // 2
        level1_w = ceil_div(level.width, 2)
        whole = level1_w // half_w  # tiles whose halves are whole in level 1
        height = min(tile_h, level.height - ty * tile_h)
        for tx in range(level.n_tx):
            width = self.last_w if tx == level.n_tx - 1 else tile_w
            if (width, height) == (tile_w, tile_h):
                self.source.decode(tx, ty, half[tx], half=True)
                continue
            halved = self.edge(tx, ty)
            half[tx, : halved.shape[0], : halved.shape[1]] = halved
        rows = ceil_div(height, 2)
        strip = np.empty((rows, level1_w, self.samples), np.uint8)  # the tiles side by side
        laid = strip[:, : whole * half_w].reshape(rows, whole, half_w, self.samples)
        laid[...] = half[:whole, :rows].transpose(1, 0, 2, 3)
        if whole < level.n_tx:
            strip[:, whole * half_w :] = half[whole, :rows, : level1_w - whole * half_w]
        return strip, height


def count_half(counts: np.ndarray, strip: np.ndarray, height: int, width: int) -> None:
    """Add to ``counts`` (256 values, bands) the level-0 pixels of a row ``height`` x ``width``
    as its level-1 ``strip`` (:func:`half_strips`) estimates them: 4 counts a level-1 pixel, 2 on
    an odd last column or row (one level-0 column or row), 1 at their corner. ``strip`` may be
    a view (a part of a wider row)."""
    import numpy as np

    from cytotile.importer.dctlevel import codec

    rows, columns = height // 2, width // 2  # level-1 pixels of 2x2 level-0 pixels
    parts = [(strip[:rows, :columns], 4)]
    if width % 2:
        parts.append((strip[:rows, columns : columns + 1], 2))
    if height % 2:
        parts.append((strip[rows : rows + 1, :columns], 2))
        if width % 2:
            parts.append((strip[rows : rows + 1, columns : columns + 1], 1))
    lib = codec()
    for pixels, weight in parts:
        if not pixels.size:
            continue
        if lib is not None:  # the C codec's counter: about 1 ns a sample, any strip
            lib.histogram(pixels, counts, weight)
        elif pixels.size >= VIPS_MIN_SAMPLES and pixels.flags.c_contiguous:
            image = pyvips_image(pixels)
            counts += weight * image.hist_find().numpy().reshape(-1, pixels.shape[2])
        else:
            for b in range(pixels.shape[2]):
                counts[:, b] += weight * np.bincount(pixels[..., b].ravel(), minlength=256)


def pyvips_image(pixels: np.ndarray) -> Any:
    import pyvips

    rows, columns, bands = pixels.shape
    return pyvips.Image.new_from_memory(pixels.data, columns, rows, bands, "uchar")
