"""A JPEG-tiled source's tiles decoded as libtiff (so OpenSlide and libvips) decodes them, for the
lower tiers and the histogram: in full, or at half size by libjpeg's DCT scaling; and the 2x2
mean, the box-downsampling the tiers are measured against."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cytotile.errors import ConversionError
from cytotile.importer import jpegmarkers as jm

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.retile import JpegLevel


class SourceTiles:
    """Decodes a level's tiles, each alone, its components read as the TIFF's photometric says
    (RGB-coded or YCbCr, whatever the JPEG markers say). A context manager (the file's fd)."""

    def __init__(self, level: JpegLevel) -> None:
        self.level = level
        self.space = "GRAY" if level.photometric == 1 else "RGB"
        self.fd = os.open(level.path, os.O_RDONLY)
        #: the last tile's markers before its scan, and what they became: the tiles of a level
        #: mostly share them (JPEGTables, one frame size), so they are rewritten once
        self._head: tuple[bytes, bytes] | None = None

    def __enter__(self) -> SourceTiles:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def decode(self, tile_tx: int, tile_ty: int, buffer: np.ndarray, half: bool = False) -> None:
        """Decode a tile into ``buffer`` (its shape the decoded one); ``half``: libjpeg's 1/2
        scaled decoding (a reduced IDCT of each block's low frequencies)."""
        import simplejpeg

        level = self.level
        stream = self._prepared(level.stream(self.fd, tile_ty * level.n_tx + tile_tx))
        # the smallest of libjpeg's scales M/8 giving at least these sizes: 4/8 (tiles are even)
        size = (level.tile_height // 2, level.tile_width // 2) if half else (0, 0)
        try:
            got = simplejpeg.decode_jpeg(
                stream, self.space, min_height=size[0], min_width=size[1], buffer=buffer
            )
        except ValueError as exc:
            raise ConversionError(f"cannot decode source tile {tile_tx},{tile_ty}: {exc}") from exc
        if got.shape[:2] != buffer.shape[:2]:  # a frame of another size than the level's tiles
            raise ConversionError(f"source tile {tile_tx},{tile_ty} decodes to {got.shape[:2]}")

    def _prepared(self, stream: bytes) -> bytes:
        """``stream`` with the markers libtiff overrides rewritten (photometric RGB: an Adobe
        marker saying "untransformed"; otherwise no APPn: YCbCr for 3 components)."""
        if self._head is not None:
            raw, done = self._head
            if stream.startswith(raw) and stream[len(raw) : len(raw) + 2] == b"\xff\xda":
                return done + stream[len(raw) :]  # the same markers up to the scan (SOS)
        rgb = self.level.photometric == 2
        prepared = jm.mark_rgb(stream) if rgb else jm.drop_app(stream)
        scan = jm.segments(stream)[-1]
        if scan[0] == jm.SOS:
            self._head = (stream[: scan[1]], prepared[: len(prepared) - (len(stream) - scan[1])])
        return prepared


def source_rows(level: JpegLevel) -> Iterator[tuple[np.ndarray, int]]:
    """Each row of the level's tiles decoded, as (tiles, height): ``tiles`` is (n_tx,
    tile_height, tile_width, samples), each tile decoded in place (one buffer, reused: valid
    until the next row) as libtiff (so OpenSlide and libvips) decodes it: alone, its components
    read as the TIFF's photometric says (RGB-coded or YCbCr), not cropped; ``height`` is the
    row's height in the image (the last tile's width is the image's remainder)."""
    import numpy as np

    shape = (level.n_tx, level.tile_height, level.tile_width, 1 if level.photometric == 1 else 3)
    tiles = np.empty(shape, np.uint8)
    with SourceTiles(level) as source:
        for ty in range(level.n_ty):
            for tx in range(level.n_tx):
                source.decode(tx, ty, tiles[tx])
            yield tiles, min(level.tile_height, level.height - ty * level.tile_height)


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


def halve(strip: np.ndarray) -> np.ndarray:
    """2x2 mean (rounded), an odd last row/column paired with itself; C-contiguous."""
    import numpy as np

    from cytotile.importer.dctlevel import codec

    h, w = strip.shape[:2]
    lib = codec()
    if lib is not None and strip.strides[1:] == (strip.shape[2], 1):  # the C codec's: 4x numpy
        halved = np.empty(((h + 1) // 2, (w + 1) // 2, strip.shape[2]), np.uint8)
        lib.halve(strip, halved)
        return halved
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
    halved = np.empty((columns.shape[0], c), np.uint8)  # interleaved again, C-contiguous
    halved[...] = total.T
    return halved.reshape(h // 2, w // 2, c)
