"""A JPEG-tiled level as the C coefficient codec (``_jpegdct``) codes it: its frame, its
quantization and Huffman tables, and its source tiles transcoded: entropy-decoded into
coefficient planes, their blocks' AC symbols coded with the level's tables at once, or kept as
the source coded them when those are its own tables (stores).

The Huffman tables are the source's own for a small level whose tiles share them
(:mod:`cytotile.importer.dctsource`), else chosen once per level
(:mod:`cytotile.importer.dctcoding`); written once in its ``JPEGTables`` beside its quantization
tables. :mod:`cytotile.importer.dctretile` assembles the pyramid's tiles from the stores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cytotile.importer import dctcoding as dc
from cytotile.importer import dctsource
from cytotile.importer import jpegmarkers as jm
from cytotile.importer.buffers import zeroed
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.coefhalf import HalfRows
    from cytotile.importer.retile import JpegLevel

#: a source tile's blocks as the codec's ``transcode`` gives them: (AC bit strings, records)
Store = tuple[bytes, bytes]


def codec() -> ModuleType | None:
    """The C codec, or None when the extension is not built (the jpeglib path then)."""
    try:
        from cytotile.importer import _jpegdct
    except ImportError:
        return None
    return _jpegdct


def job_result(result: Any, what: str) -> Any:
    """A codec step's job's result (``step_finish``'s), or its error raised: a ValueError (the
    data's) as :class:`~cytotile.importer.retile.NotRetilable` saying ``what`` failed."""
    from cytotile.importer.retile import NotRetilable

    if isinstance(result, ValueError):
        raise NotRetilable(f"{what}: {result}") from result
    if isinstance(result, BaseException):
        raise result
    return result


class Coding:
    """How the level's tiles are written: its frame, quantization and Huffman tables.

    The Huffman tables are the source's own when its tiles share them
    (:mod:`cytotile.importer.dctsource`), else counted from a sample of the level's tiles
    (:meth:`count`: the codec's ``count`` decodes and counts at once, 2-3 ms on a small
    slide). The transcoding needs them: when they are counted,
    :class:`~cytotile.importer.retile.CodingAhead` counts in a thread of its own from the moment
    the level is known, beside the pyramid's set-up, and the bands' first row waits for it."""

    def __init__(self, level: JpegLevel, lib: ModuleType) -> None:
        from cytotile.importer.retile import NotRetilable

        if any(not 0 <= tid < 4 for tid in level.quant):
            raise NotRetilable(f"quantization table ids {sorted(level.quant)}: baseline has 0-3")
        self.level, self.lib = level, lib
        frame = level.frame
        self.sampling = tuple((c[1], c[2]) for c in frame.components)
        self.mcu = (frame.mcu_width, frame.mcu_height)
        if len(self.sampling) == 1:  # one component: a non-interleaved scan, an MCU one block
            self.sampling, self.mcu = ((1, 1),), (8, 8)  # whatever sampling the frame declares
        #: pixels each block of a component covers (x, y)
        self.block = [(self.mcu[0] // h, self.mcu[1] // v) for h, v in self.sampling]
        self.fd = os.open(level.path, os.O_RDONLY)
        #: the level's quantization tables (tile 0's), as the codec's ``transcode`` returns them
        self.quant = jm.natural_quant(level.quant)
        #: level 1 made from the decoded source rows (:mod:`cytotile.importer.coefhalf`), if set
        self.halves: HalfRows | None = None
        self._lock = threading.Lock()  # the count's
        self._local = threading.local()  # each thread's tile_planes
        self._heads: list[bytes] | None = None
        first = os.pread(self.fd, level.byte_counts[0], level.offsets[0])
        kept = dctsource.kept_tables(level, first)  # the source's own, when they serve
        self._counted: tuple[dc.Tables, bytes] | BaseException | None = (
            None if kept is None else self._ready(kept)
        )

    @property
    def counting(self) -> bool:
        """Whether the tables are still to be counted (:meth:`count`)."""
        return self._counted is None

    def _ready(self, huffman: dc.Tables) -> tuple[dc.Tables, bytes]:
        """``huffman`` prepared for the codec, and the level's JPEGTables with it."""
        huffman.prepared = self.lib.prepare(huffman.coded)
        return huffman, b"\xff\xd8" + dc.dqt(self.level) + huffman.dht + b"\xff\xd9"

    def count(self) -> None:
        """Count the sample's symbols and choose the tables, once (any thread; a second
        caller waits for the first). A failure is kept for :attr:`huffman` to raise."""
        import numpy as np

        from cytotile.importer.retile import NotRetilable

        with self._lock:
            if self._counted is not None:
                return
            level = self.level
            picks = dc.sample(len(level.offsets))
            counts = np.zeros((len(picks), len(level.frame.components), 2, 256), np.int64)
            try:
                for k, index in enumerate(picks):
                    data = os.pread(self.fd, level.byte_counts[index], level.offsets[index])
                    try:  # decoded and counted at once, as encode would code them
                        self.lib.count(level.complete(data), counts[k])
                    except ValueError as exc:
                        raise NotRetilable(f"tile {index}: {exc}") from exc
                self._counted = self._ready(dc.Tables(level, counts, picks))
            except BaseException as exc:  # raised where the tables are needed
                self._counted = exc

    def _tables(self) -> tuple[dc.Tables, bytes]:
        counted = self._counted  # set once (by count, or the source's): no lock once there
        if counted is None:
            self.count()
            counted = self._counted
        if isinstance(counted, BaseException):
            raise counted
        assert counted is not None
        return counted

    @property
    def huffman(self) -> dc.Tables:
        """The level's Huffman tables (counted first if nobody has)."""
        return self._tables()[0]

    @property
    def tables(self) -> bytes:
        """What the level's JPEGTables holds: SOI, DQT, DHT, EOI."""
        return self._tables()[1]

    @property
    def prefix(self) -> bytes:
        """What a tile has after its SOI: an Adobe marker when its components are R, G, B."""
        return jm.ADOBE_RGB if self.level.colorspace == "JCS_RGB" else b""

    @property
    def heads(self) -> list[bytes]:
        """SOF and SOS of a 256x256 tile, for each table set."""
        if self._heads is None:
            sets = len(self.huffman.sets)
            self._heads = [self.header(k, TILE_SIZE, TILE_SIZE) for k in range(sets)]
        return self._heads

    def header(self, which: int, width: int, height: int) -> bytes:
        """SOF and SOS of a ``width`` x ``height`` tile coded with table set ``which``."""
        ids = self.huffman.ids[which]
        return dc.header(self.level, self.huffman.marker, ids, width, height)

    def planes(self, width: int, height: int) -> tuple[np.ndarray, ...]:
        """Zeroed coefficient planes covering ``width`` x ``height`` pixels (MCU multiples), in
        huge pages when the kernel gives them (:func:`~cytotile.importer.buffers.zeroed`)."""
        shapes: list[tuple[int, ...]] = [(height // bh, width // bw, 64) for bw, bh in self.block]
        return zeroed(shapes, "int16")

    def tile_planes(self) -> tuple[np.ndarray, ...]:
        """The calling thread's planes of one source tile, made at its first call and reused:
        :meth:`row_jobs` decodes each tile into them and makes its level 1 in the same call,
        so they are free again when it returns (in the core's caches, and a few pages to map
        in a fresh process, not a source row's planes a band: 425 first faults on CMU-1)."""
        planes: tuple[np.ndarray, ...] | None = getattr(self._local, "planes", None)
        if planes is None:  # not zeroed: a tile's decoding writes every block of its planes
            import numpy as np

            width, height = self.level.tile_width, self.level.tile_height
            planes = tuple(
                np.empty((height // bh, width // bw, 64), np.int16) for bw, bh in self.block
            )
            self._local.planes = planes
        return planes

    def _choice(self, index: int) -> tuple[Any, ...] | None:
        """The codec's ``choice`` for source tile ``index``: which table set codes each of its
        MCUs (the set of the output tile it falls in); None with one set."""
        level, grid = self.level, self.huffman.grid
        if grid is None:
            return None
        sy, sx = divmod(index, level.n_tx)
        n_x, n_y = ceil_div(level.width, TILE_SIZE), ceil_div(level.height, TILE_SIZE)
        mcu_w, mcu_h = self.mcu
        first = (sx * level.tile_width // mcu_w, sy * level.tile_height // mcu_h)
        return (grid, n_x, n_y, *first, TILE_SIZE // mcu_w, TILE_SIZE // mcu_h)

    def row_jobs(
        self, step: Any, sy: int, half: Callable[[int], tuple[Any, ...] | None] | None = None
    ) -> Callable[[list[Any]], list[Store]]:
        """The transcoding of source row ``sy``'s tiles opened in the codec's ``step``
        (``step_transcode``): each tile entropy-decoded into the planes of the thread that runs
        it (:meth:`tile_planes`) and its blocks' AC symbols coded with the level's tables (each
        with the set of the output tile it falls in; copied as they are when the tile's tables
        are the level's), for the codec's ``assemble``; ``half(k)``: tile ``k``'s level-1
        arguments, made in the same call (its coefficients still in the caches:
        :meth:`HalfRow.job`). The row is read at once when its tiles are stored together (as
        scanners and libvips write them, in any order). Returns what makes the row's stores of
        the step's results (:class:`~cytotile.importer.retile.NotRetilable` for a tile that
        failed, or has other quantization tables)."""
        from cytotile.importer.retile import NotRetilable

        level, tables = self.level, self.huffman.prepared
        first = sy * level.n_tx
        offsets = level.offsets[first : first + level.n_tx]
        counts = level.byte_counts[first : first + level.n_tx]
        start = min(offsets)
        end = max(o + n for o, n in zip(offsets, counts, strict=True))
        row = None  # scattered: each read alone
        if end - start <= 1.25 * sum(counts):
            row = memoryview(os.pread(self.fd, end - start, start))
        jobs = []
        for k, (offset, count) in enumerate(zip(offsets, counts, strict=True)):
            at = offset - start
            data = os.pread(self.fd, count, offset) if row is None else row[at : at + count]
            args = None if half is None else half(k)
            try:
                stream = level.complete(data)  # type: ignore[arg-type]
                jobs.append(
                    self.lib.step_transcode(step, stream, tables, self._choice(first + k), args)
                )
            except ValueError as exc:
                raise NotRetilable(f"tile {first + k}: {exc}") from exc

        def stores(results: list[Any]) -> list[Store]:
            made: list[Store] = []
            for k, job in enumerate(jobs):
                quant, bits, records = job_result(results[job], f"tile {first + k}")
                if quant != self.quant:
                    raise NotRetilable(f"tile {first + k} has other quantization tables")
                made.append((bits, records))
            return made

        return stores

    def close(self) -> None:
        os.close(self.fd)
