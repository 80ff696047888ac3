"""The serving pyramid's lower tiers, from its full-resolution JPEG tiles, in bounded memory.

The source's full-resolution tiles are decoded once, as libtiff decodes them (the complete
histogram needs every pixel anyway: no second decode by libvips); level 1 is their 2x2 mean, each
further tier the previous one halved (the last odd row/column averaged with itself: the
normalized tier sizes round up): the box-downsampled read the tiers are measured against.
Every tier is streamed one row of tiles at a time and encoded once, YCbCr 4:2:0 (or grey), at
the given quality: the tiles share one set of tables (TIFF ``JPEGTables``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cytotile.errors import ConversionError
from cytotile.importer import jpegmarkers as jm
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.retile import JpegLevel

#: (level, tile_tx, tile_ty, padded 256x256 abbreviated stream, exact-size complete stream|None)
TileSink = Callable[[int, int, int, bytes, bytes | None], None]


def encode_tile(pixels: np.ndarray, quality: int) -> bytes:
    import simplejpeg

    grey = pixels.shape[2] == 1
    return bytes(
        simplejpeg.encode_jpeg(
            pixels,
            quality=quality,
            colorspace="GRAY" if grey else "RGB",
            colorsubsampling="Gray" if grey else "420",
        )
    )


def halve(strip: np.ndarray) -> np.ndarray:
    """2x2 mean (rounded), an odd last row/column paired with itself."""
    import numpy as np

    h, w = strip.shape[:2]
    if h % 2 or w % 2:
        strip = np.pad(strip, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    h, w, c = strip.shape
    pairs = strip.reshape(h // 2, 2, w * c)  # row pairs first: contiguous rows, no striding
    rows = np.add(pairs[:, 0], pairs[:, 1], dtype=np.uint16)
    columns = rows.reshape(-1, 2 * c)  # a pixel pair's samples side by side
    # summed sample by sample (planar output): long inner loops, not one of ``c`` elements
    total = np.empty((c, columns.shape[0]), np.uint16)
    np.add(columns[:, :c].T, columns[:, c:].T, out=total)
    total += 2
    total >>= 2
    halved: np.ndarray = total.T.astype(np.uint8).reshape(h // 2, w // 2, c)
    return halved


@dataclass
class TierBuilder:
    """Takes rows of pixels of one tier, top to bottom; encodes each row of tiles when complete
    and hands its own halved rows to the next tier's builder."""

    level: int
    width: int
    height: int
    quality: int
    sink: TileSink
    below: TierBuilder | None = None
    tables: bytes | None = None
    _rows: list[np.ndarray] = field(default_factory=list)
    _pending: int = 0  # rows buffered
    _done: int = 0  # rows already encoded
    _carry: np.ndarray | None = None  # an odd row waiting for its pair (for the tier below)

    def feed(self, strip: np.ndarray) -> None:
        import numpy as np

        if strip.shape[1] != self.width:
            raise ConversionError(f"tier {self.level}: strip of width {strip.shape[1]}")
        self._rows.append(strip)
        self._pending += strip.shape[0]
        if self.below is not None:
            self._pass_down(strip)
        while self._pending >= TILE_SIZE or (
            self._pending and self._done + self._pending >= self.height
        ):
            buffer = np.concatenate(self._rows) if len(self._rows) > 1 else self._rows[0]
            n = min(TILE_SIZE, buffer.shape[0])
            self._encode_row(buffer[:n])
            rest = buffer[n:]
            self._rows = [rest] if rest.shape[0] else []
            self._pending = rest.shape[0]
            self._done += n

    def _pass_down(self, strip: np.ndarray) -> None:
        import numpy as np

        assert self.below is not None
        if self._carry is not None:
            strip = np.concatenate([self._carry, strip])
            self._carry = None
        seen = self._done + self._pending
        if strip.shape[0] % 2 and seen < self.height:
            self._carry, strip = strip[-1:], strip[:-1]
        if strip.shape[0]:
            self.below.feed(halve(strip))

    def _encode_row(self, rows: np.ndarray) -> None:
        import numpy as np

        tile_ty = self._done // TILE_SIZE
        h = rows.shape[0]
        for tile_tx in range(ceil_div(self.width, TILE_SIZE)):
            x0 = tile_tx * TILE_SIZE
            w = min(TILE_SIZE, self.width - x0)
            tile = np.ascontiguousarray(rows[:, x0 : x0 + w])
            exact = None
            if (w, h) != (TILE_SIZE, TILE_SIZE):
                exact = encode_tile(tile, max(self.quality, 90))
                tile = np.pad(tile, ((0, TILE_SIZE - h), (0, TILE_SIZE - w), (0, 0)), mode="edge")
            tables, data = jm.split_tables(encode_tile(tile, self.quality))
            if self.tables is None:
                self.tables = tables
            elif tables != self.tables:
                raise ConversionError(f"tier {self.level}: the encoder changed its tables")
            self.sink(self.level, tile_tx, tile_ty, data, exact)


def builders(sizes: list[tuple[int, int]], quality: int, sink: TileSink) -> dict[int, TierBuilder]:
    """Chained builders of tiers 1..n (level -> builder); feed level 1's rows to ``[1]``."""
    chain: dict[int, TierBuilder] = {}
    below: TierBuilder | None = None
    for level in range(len(sizes) - 1, 0, -1):
        width, height = sizes[level]
        below = TierBuilder(level, width, height, quality, sink, below)
        chain[level] = below
    return chain


def source_rows(level: JpegLevel) -> Iterator[tuple[np.ndarray, int]]:
    """Each row of the level's tiles decoded, as (tiles, height): ``tiles`` is (n_tx,
    tile_height, tile_width, samples), each tile decoded in place (one buffer, reused: valid
    until the next row) as libtiff (so OpenSlide and libvips) decodes it: alone, its components
    read as the TIFF's photometric says (RGB-coded or YCbCr), not cropped; ``height`` is the
    row's height in the image (the last tile's width is the image's remainder)."""
    import numpy as np
    import simplejpeg

    grey = level.photometric == 1
    space = "GRAY" if grey else "RGB"
    shape = (level.n_tx, level.tile_height, level.tile_width, 1 if grey else 3)
    tiles = np.empty(shape, np.uint8)
    fd = os.open(level.path, os.O_RDONLY)
    try:
        for ty in range(level.n_ty):
            for tx in range(level.n_tx):
                stream = level.stream(fd, ty * level.n_tx + tx)
                # libtiff sets the colour space from the photometric, whatever the markers say
                stream = jm.mark_rgb(stream) if level.photometric == 2 else jm.drop_app(stream)
                try:
                    simplejpeg.decode_jpeg(stream, colorspace=space, buffer=tiles[tx])
                except ValueError as exc:
                    raise ConversionError(f"cannot decode source tile {tx},{ty}: {exc}") from exc
            yield tiles, min(level.tile_height, level.height - ty * level.tile_height)
    finally:
        os.close(fd)


def source_strips(level: JpegLevel) -> Iterator[np.ndarray]:
    """The level's pixels, one row of its tiles at a time (height, width, samples), cropped at
    the image's edge (:func:`source_rows` laid side by side)."""
    for tiles, height in source_rows(level):
        n, _, tile_w, samples = tiles.shape
        strip = tiles[:, :height].transpose(1, 0, 2, 3).reshape(height, n * tile_w, samples)
        yield strip[:, : level.width]


def image_parts(tiles: np.ndarray, height: int, width: int) -> list[np.ndarray]:
    """The pixels of a row of tiles (:func:`source_rows`) inside the image (``height`` x
    ``width`` laid side by side), one tile an image row (n, pixels, samples), contiguous: the
    whole tiles, then the last one cropped (either may be missing)."""
    import numpy as np

    n, _, tile_w, samples = tiles.shape
    last_w = width - (n - 1) * tile_w
    whole = n if last_w == tile_w else n - 1
    parts = [tiles[:whole, :height]] + ([tiles[n - 1 :, :height, :last_w]] if whole < n else [])
    return [
        np.ascontiguousarray(part).reshape(part.shape[0], -1, samples)
        for part in parts
        if part.size
    ]


def halve_tiles(tiles: np.ndarray, height: int, width: int) -> np.ndarray:
    """:func:`halve` of a row of tiles (:func:`source_rows`) laid side by side and cropped to
    ``height`` x ``width``, without laying them out at full size: the tiles' sizes are even (a
    multiple of the MCU), so no 2x2 box straddles two tiles; an odd last row or column is
    paired with itself (written over the tile's padding: ``tiles`` is modified)."""
    n, tile_h, tile_w, samples = tiles.shape
    last_w = width - (n - 1) * tile_w
    if height % 2:
        tiles[:, height] = tiles[:, height - 1]
    if last_w % 2:
        tiles[n - 1, :, last_w] = tiles[n - 1, :, last_w - 1]
    halved = halve(tiles.reshape(n * tile_h, tile_w, samples))
    rows = (height + 1) // 2
    halved = halved.reshape(n, tile_h // 2, tile_w // 2, samples)[:, :rows]
    strip = halved.transpose(1, 0, 2, 3).reshape(rows, n * (tile_w // 2), samples)
    return strip[:, : (width + 1) // 2]
