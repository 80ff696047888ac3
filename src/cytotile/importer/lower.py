"""The serving pyramid's lower tiers, from level 1's rows, in bounded memory.

Level 1 comes from one decode of the source's tiles (:mod:`cytotile.importer.levelone`: libjpeg's
1/2 scaled decoding; or, for a small level, the 2x2 mean of the full decode); each further tier
is the previous one halved (the last odd row/column averaged with itself: the normalized tier
sizes round up): the box-downsampled read the tiers are measured against. Every tier is
streamed one row of tiles at a time and encoded once, YCbCr 4:2:0 (or grey), at the given
quality: the tiles share one set of tables (TIFF ``JPEGTables``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cytotile.errors import ConversionError
from cytotile.importer import jpegmarkers as jm
from cytotile.importer.sourcetiles import halve
from cytotile.importer.sourcetiles import source_strips as source_strips  # its former home
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.crew import Crew


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


def tier_tables(n_samples: int, quality: int) -> bytes:
    """The JPEGTables every tile :func:`encode_tile` makes shares (its tables depend on the
    quality and the bands only: libjpeg's standard Huffman tables, not optimized ones)."""
    import numpy as np

    blank = np.zeros((8, 8, n_samples), np.uint8)
    return jm.split_tables(encode_tile(blank, quality))[0]


#: pixels an edge tile's last pixels are repeated beyond the image (an MCU of 4:2:0)
REPEAT = 16


def pad_tile(tile: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """An edge tile (its image part) padded to 256x256: its last pixels repeated up to the end
    of the next MCU beyond the one the edge cuts (so that every block with pixels inside, and a
    decoder's chroma upsampling near the edge, is as with the edge repeated throughout), then
    one flat colour, the tile's mean: repeated edges are streaks, which cost bits. Into ``out``
    (256x256, the tile's bands) when given."""
    import numpy as np

    h, w = tile.shape[:2]
    keep_h = min(TILE_SIZE, (ceil_div(h, REPEAT) + 1) * REPEAT)
    keep_w = min(TILE_SIZE, (ceil_div(w, REPEAT) + 1) * REPEAT)
    # summed by columns in uint32 first (exact: 256 rows of 255): 17x sooner than mean() of
    # the strided view, which copies it to float64
    total = tile.sum(axis=0, dtype=np.uint32).sum(axis=0, dtype=np.uint64)
    if out is None:
        out = np.empty((TILE_SIZE, TILE_SIZE, tile.shape[2]), np.uint8)
    out[0] = np.rint(total / (h * w)).astype(np.uint8)
    out[1:] = out[0]  # a row broadcast: 40x sooner than a pixel broadcast over the tile
    out[:h, :w] = tile
    out[:h, w:keep_w] = tile[:, w - 1 : w]  # the last column, then the last row, repeated
    out[h:keep_h, :keep_w] = out[h - 1 : h, :keep_w]
    return out


_pads = threading.local()  # each encoding thread's padded tile, reused (192 KB: over malloc's
# mmap threshold, a new one each edge tile was mapped, faulted in and unmapped again)


def _pad_buffer(bands: int) -> np.ndarray:
    import numpy as np

    pad: np.ndarray | None = getattr(_pads, "tile", None)
    if pad is None or pad.shape[2] != bands:
        pad = _pads.tile = np.empty((TILE_SIZE, TILE_SIZE, bands), np.uint8)
    return pad


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
    crew: Crew | None = None  # the feeding thread's, sharing each row's tiles
    _buffer: np.ndarray | None = None  # one row of tiles' pixels, reused row after row
    _pending: int = 0  # rows buffered
    _done: int = 0  # rows already encoded
    _carry: np.ndarray | None = None  # an odd row waiting for its pair (for the tier below)

    def feed(self, strip: np.ndarray) -> None:
        """Copied into the tier's row of tiles (not kept: one buffer for the tier, no new
        one each row); a row of tiles is encoded as soon as it is complete."""
        import numpy as np

        if strip.shape[1] != self.width:
            raise ConversionError(f"tier {self.level}: strip of width {strip.shape[1]}")
        if self.below is not None:
            self._pass_down(strip, self._done + self._pending + strip.shape[0])
        at = 0
        while at < strip.shape[0]:
            if self._buffer is None:
                shape = (min(TILE_SIZE, self.height), self.width, strip.shape[2])
                self._buffer = np.empty(shape, np.uint8)
            n = min(strip.shape[0] - at, self._buffer.shape[0] - self._pending)
            self._buffer[self._pending : self._pending + n] = strip[at : at + n]
            self._pending += n
            at += n
            if self._pending == TILE_SIZE or self._done + self._pending >= self.height:
                self._encode_row(self._buffer[: self._pending])
                self._done += self._pending
                self._pending = 0

    def _pass_down(self, strip: np.ndarray, seen: int) -> None:
        """``strip`` halved to the tier below; ``seen``: this tier's rows so far, with it."""
        import numpy as np

        assert self.below is not None
        if self._carry is not None:
            strip = np.concatenate([self._carry, strip])
            self._carry = None
        if strip.shape[0] % 2 and seen < self.height:
            self._carry, strip = strip[-1:].copy(), strip[:-1]  # the caller may reuse it
        if strip.shape[0]:
            self.below.feed(halve(strip))

    def _encode_row(self, rows: np.ndarray) -> None:
        """A row of tiles encoded (shared by the crew, if any), then handed on in order."""
        import numpy as np

        tile_ty = self._done // TILE_SIZE
        h = rows.shape[0]
        if rows.strides[1:] != (rows.shape[2], 1):  # simplejpeg takes any row stride, no other
            rows = np.ascontiguousarray(rows)
        coded: list[tuple[bytes, bytes | None]] = [(b"", None)] * ceil_div(self.width, TILE_SIZE)

        def encode(part: range) -> None:
            for tile_tx in part:
                x0 = tile_tx * TILE_SIZE
                w = min(TILE_SIZE, self.width - x0)
                tile = rows[:, x0 : x0 + w]  # no copy
                exact = None
                if (w, h) != (TILE_SIZE, TILE_SIZE):
                    exact = encode_tile(tile, max(self.quality, 90))
                    tile = pad_tile(tile, _pad_buffer(tile.shape[2]))
                coded[tile_tx] = (encode_tile(tile, self.quality), exact)

        if self.crew is None:
            encode(range(len(coded)))
        else:
            self.crew.run(encode, len(coded))
        for tile_tx, (stream, exact) in enumerate(coded):
            tables, data = jm.split_tables(stream)
            if self.tables is None:
                self.tables = tables
            elif tables != self.tables:
                raise ConversionError(f"tier {self.level}: the encoder changed its tables")
            self.sink(self.level, tile_tx, tile_ty, data, exact)


def builders(
    sizes: list[tuple[int, int]],
    quality: int,
    sink: TileSink,
    crew: Crew | None = None,
    tables: bytes | None = None,
) -> dict[int, TierBuilder]:
    """Chained builders of tiers 1..n (level -> builder); feed level 1's rows to ``[1]``; each
    row's tiles shared by ``crew`` (the feeding thread's); ``tables``: the JPEGTables the tiles
    must share (:func:`tier_tables`; by default the first tile's)."""
    chain: dict[int, TierBuilder] = {}
    below: TierBuilder | None = None
    for level in range(len(sizes) - 1, 0, -1):
        width, height = sizes[level]
        below = TierBuilder(level, width, height, quality, sink, below, tables, crew)
        chain[level] = below
    return chain


class FeedThread:
    """``consume`` called in another thread on each item ``feed`` queues, at most ``depth``
    waiting (bounded memory: the items are the caller's, not copied); ``close`` waits for the
    last one and raises ``consume``'s exception, if any. The lower tiers' encoding (libjpeg)
    and counting (libvips) run beside the decoding (libjpeg): all release the GIL."""

    def __init__(self, consume: Callable[..., None], depth: int = 2) -> None:
        import queue
        import threading

        self.consume = consume
        self.queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def feed(self, *item: Any) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:  # after an error, drained: the caller never blocks
                try:
                    self.consume(*item)
                except BaseException as exc:  # raised in the caller's thread
                    self.error = exc
