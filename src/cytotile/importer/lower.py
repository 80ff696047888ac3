"""The serving pyramid's lower tiers, from level 1's rows, in bounded memory.

Level 1 comes from one decode of the source's tiles (:mod:`cytotile.importer.levelone`: libjpeg's
1/2 scaled decoding; or, for a small level, the 2x2 mean of the full decode); each further tier
is the previous one halved (the last odd row/column averaged with itself: the normalized tier
sizes round up): the box-downsampled read the tiers are measured against. Every tier is
streamed one row of tiles at a time and encoded once, YCbCr 4:2:0 (or grey), at the given
quality: the tiles share one set of tables (TIFF ``JPEGTables``). The rows of tiles a strip
completes, in every tier it reaches, are encoded together
(:class:`~cytotile.importer.tiercoding.Batch`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cytotile.errors import ConversionError
from cytotile.importer import jpegmarkers as jm
from cytotile.importer.sourcetiles import halve
from cytotile.importer.sourcetiles import source_strips as source_strips  # its former home
from cytotile.importer.tiercoding import REPEAT as REPEAT  # re-exported: their former home
from cytotile.importer.tiercoding import Batch, TileSink
from cytotile.importer.tiercoding import encode_tile as encode_tile
from cytotile.importer.tiercoding import pad_tile as pad_tile
from cytotile.importer.tiercoding import tier_tables as tier_tables
from cytotile.pyramid import TILE_SIZE

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.crew import Crew


@dataclass
class TierBuilder:
    """Takes rows of pixels of one tier, top to bottom; hands each complete row of tiles to the
    chain's :class:`~cytotile.importer.tiercoding.Batch` (encoded once every tier below has
    taken the rows it made) and its own halved rows to the next tier's builder."""

    level: int
    width: int
    height: int
    quality: int
    sink: TileSink
    below: TierBuilder | None = None
    tables: bytes | None = None
    batch: Batch = field(default_factory=Batch)  # the chain's: one for every tier
    #: one row of tiles' pixels, reused row after row (a full one waits in the batch until a
    #: strip completes it, or the next row needs the buffer: a second one would cost 15 MB at
    #: level 1 of a 40000-pixel-wide slide)
    _buffer: np.ndarray | None = None
    _pending: int = 0  # rows buffered
    _done: int = 0  # rows handed to the batch
    _carry: np.ndarray | None = None  # an odd row waiting for its pair (for the tier below)
    _splitter: jm.TableSplitter = field(default_factory=jm.TableSplitter)

    def feed(self, strip: np.ndarray) -> None:
        """Copied into the tier's row of tiles (not kept); the rows of tiles this completes,
        in this tier and the ones below, are encoded before it returns."""
        self._feed(strip)
        self.batch.flush()

    def _feed(self, strip: np.ndarray) -> None:
        import numpy as np

        if strip.shape[1] != self.width:
            raise ConversionError(f"tier {self.level}: strip of width {strip.shape[1]}")
        if self.below is not None:
            self._pass_down(strip, self._done + self._pending + strip.shape[0])
        at = 0
        while at < strip.shape[0]:
            tile_ty = self._done // TILE_SIZE
            if self._pending == 0 and self.batch.holds(self.level, tile_ty - 1):
                self.batch.flush()  # that row's pixels are in the buffer this one fills
            if self._buffer is None:
                shape = (min(TILE_SIZE, self.height), self.width, strip.shape[2])
                self._buffer = np.empty(shape, np.uint8)
            n = min(strip.shape[0] - at, TILE_SIZE - self._pending)
            self._buffer[self._pending : self._pending + n] = strip[at : at + n]
            self._pending += n
            at += n
            if self._pending == TILE_SIZE or self._done + self._pending >= self.height:
                rows = self._buffer[: self._pending]
                self.batch.add(self.level, tile_ty, rows, self.quality, self._hand_on)
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
            self.below._feed(halve(strip))

    def _hand_on(self, tile_ty: int, coded: list[tuple[bytes, bytes | None]]) -> None:
        """Row ``tile_ty``'s encoded tiles to the sink, in order, their tables checked."""
        for tile_tx, (stream, exact) in enumerate(coded):
            tables, data = self._splitter.split(stream)
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
    """Chained builders of tiers 1..n (level -> builder); feed level 1's rows to ``[1]``; the
    rows of tiles are encoded in one batch, shared by ``crew`` (the feeding thread's);
    ``tables``: the JPEGTables the tiles must share (:func:`tier_tables`; by default the
    first tile's)."""
    chain: dict[int, TierBuilder] = {}
    below: TierBuilder | None = None
    batch = Batch(crew)
    for level in range(len(sizes) - 1, 0, -1):
        width, height = sizes[level]
        below = TierBuilder(level, width, height, quality, sink, below, tables, batch)
        chain[level] = below
    return chain


class FeedThread:
    """``consume`` called in another thread on each item ``feed`` queues, at most ``depth``
    waiting (bounded memory: the items are the caller's, not copied); ``close`` waits for the
    last one and raises ``consume``'s exception, if any. The lower tiers' encoding (libjpeg)
    and counting (libvips) run beside the decoding (libjpeg): all release the GIL."""

    def __init__(self, consume: Callable[..., None], depth: int = 2) -> None:
        import queue

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
