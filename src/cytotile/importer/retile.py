"""Lossless re-tiling of a JPEG-tiled TIFF level in the DCT domain (no IDCT, no requantization).

When a source's level 0 is baseline JPEG tiles on a grid aligned to its MCUs, with one set of
quantization tables and one sampling, each 256x256 tile of the serving pyramid's full-resolution
tier is made of the quantized coefficient blocks of the (up to 4) source tiles it overlaps,
entropy-coded again. Decoded, it gives the source's own pixels. The C codec does the entropy
decoding and coding (:mod:`cytotile.importer.dctretile`, Huffman tables per level), or, when it
is not built, libjpeg (:mod:`cytotile.importer.jpeglibretile`, optimized tables per tile).

A source that does not qualify raises :class:`NotRetilable` with the reason, before any output
or while re-tiling (a tile with other tables): the caller then takes the re-encode path.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytotile.importer import dctretile, dctsteps
from cytotile.importer.dctcodec import JPEGLIB_VERSION
from cytotile.importer.jpeglevel import JpegLevel, NotRetilable, check_frame, probe
from cytotile.pyramid import TILE_SIZE, ceil_div

__all__ = [
    "JPEGLIB_VERSION",
    "CodingAhead",
    "JpegLevel",
    "NotRetilable",
    "RetiledTile",
    "check_frame",
    "probe",
    "retile",
]


@dataclass
class RetiledTile:
    tx: int
    ty: int
    tables: bytes  # what the level's JPEGTables holds (SOI, DQT [DHT], EOI): the same each tile
    data: bytes  # the 256x256 tile (what TIFF requires) without them
    exact: bytes | None  # the exact-size JPEG of a partial edge tile, a complete stream

    @property
    def padded(self) -> bytes:
        """The 256x256 tile as a complete JPEG stream (tables spliced in, as a reader does)."""
        return self.tables[:-2] + self.data[2:]


#: rows of output tiles re-tiled by one task, about (a source row straddling a band's seam is
#: read by both bands: :func:`band_rows` aligns the seams on the source's rows when it can)
BAND_ROWS = 16


def band_rows(level: JpegLevel, n_ty: int, threads: int) -> int:
    """Output rows a band: a multiple of the rows after which the source's and the output's
    grids meet again (15 rows of 256 pixels are 16 of 240: no source row is read twice), about
    :data:`BAND_ROWS`; fewer when the level has fewer rows than the threads would share."""
    aligned = math.lcm(TILE_SIZE, level.tile_height) // TILE_SIZE
    rows = aligned * max(1, BAND_ROWS // aligned) if aligned <= 2 * BAND_ROWS else BAND_ROWS
    return min(rows, ceil_div(n_ty, threads))


#: CPUs a band is given through the C codec: its thread and the codec's worker threads it
#: shares its steps with (:func:`cytotile.importer.dctsteps.band`); a wider machine gets more
#: bands. On 2 CPUs, one band and one worker re-tiled the 40000x30000 slide 8-17% sooner than
#: two bands alone (7 pairs), at a peak of 166 MB against 295 (the bands' tiles held in turn).
CPUS_A_BAND = 4

#: coefficients the re-tiling threads may hold together (:func:`row_bytes` each): a wide slide
#: gets fewer threads rather than more memory
MEMORY_BUDGET = 192 * 1024 * 1024


def row_bytes(level: JpegLevel) -> int:
    """Bytes a re-tiling thread holds: a source tile's coefficient planes (each tile decoded
    into them and level 1 made from them at once), and the transcoded blocks of the rows one
    output row spans (2 rows of 240-pixel tiles, 32 of NDPI's 8-pixel intervals), about their
    coded bytes each (taken as a quarter of their coefficients: 16 bits a coefficient, fewer
    than 4 a coded one)."""
    frame = level.frame
    across, down = level.tile_width // frame.mcu_width, level.tile_height // frame.mcu_height
    tile = sum(across * c[1] * down * c[2] for c in frame.components) * 64 * 2
    return tile + dctretile.spanned(level.tile_height) * level.n_tx * tile // 4


def worth(n_ty: int) -> int:
    """Band threads a level of ``n_ty`` output rows is worth: one a :data:`BAND_ROWS` rows. A
    band costs its own coefficient planes (memory first touched) and decodes the source row at
    its seam again; a level of fewer bands than CPUs shares each band's steps with the codec's
    worker threads instead (:func:`retile`). 24 rows (the quick bench's 8000x6000) were 12%
    sooner in two bands than in one (2 CPUs, measured before the workers)."""
    return ceil_div(n_ty, BAND_ROWS)


def workers() -> int:
    """Threads for the re-tiling: the CPUs this process may run on (libjpeg releases the GIL)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class CodingAhead:
    """The level's :class:`~cytotile.importer.dctlevel.Coding`; its Huffman tables, unless they
    are the source's own (:mod:`cytotile.importer.dctsource`), counted in a thread of its own
    from the moment the level is known: while the caller opens the pyramid and starts the lower
    tiers (a CPU otherwise idle then). The bands transcode with the tables: their first row
    waits for them. A context manager: its end waits for the thread and closes the coding."""

    def __init__(self, level: JpegLevel, lib: Any) -> None:
        self.coding = dctretile.Coding(level, lib)
        self._thread = None  # none when the tables are the source's own
        if self.coding.counting:  # the count keeps its own failure for the tables' first use
            self._thread = threading.Thread(target=self.coding.count, name="retile-tables")
            self._thread.daemon = True
            self._thread.start()

    @classmethod
    def start(cls, level: JpegLevel) -> CodingAhead | None:
        """One for ``level``, or None when the C codec is not built (libjpeg re-tiles)."""
        lib = dctretile.codec()
        return None if lib is None else cls(level, lib)

    def __enter__(self) -> CodingAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._thread.join()
        self.coding.close()


def retile(
    level: JpegLevel,
    workdir: Path | None = None,
    threads: int | None = None,
    halves: Any = None,
    ahead: CodingAhead | None = None,
) -> Iterator[RetiledTile]:
    """The 256x256 tiles of the level, row-major; bands of rows are re-tiled by ``threads``
    threads (default: :func:`workers`), a few bands ahead at most (bounded memory). Through the
    C codec when it is built (:mod:`cytotile.importer.dctretile`: Huffman tables per level),
    else through libjpeg (``jpeglib``: optimized Huffman tables per tile). ``halves`` (a
    :class:`~cytotile.importer.coefhalf.HalfRows`, C codec only) gets level 1's source rows.
    ``ahead``: the level's coding, started by the caller (who ends it); else one of its own."""
    n_ty = ceil_div(level.height, TILE_SIZE)
    cpus = workers()
    if ahead is not None or dctretile.codec() is not None:  # a band's steps shared by workers
        cpus = max(1, cpus // CPUS_A_BAND)
    threads = threads or min(cpus, max(1, MEMORY_BUDGET // row_bytes(level)), worth(n_ty))
    step = band_rows(level, n_ty, threads)
    bands = [range(y, min(n_ty, y + step)) for y in range(0, n_ty, step)]
    own = None if ahead is not None else CodingAhead.start(level)
    started = ahead or own
    if started is not None:
        with own or contextlib.nullcontext():
            coding = started.coding
            coding.halves = halves
            helpers = max(0, workers() // threads - 1)  # fewer bands than CPUs: workers
            yield from _run(
                threads, bands, functools.partial(dctsteps.band, helpers=helpers), coding
            )
        return
    from cytotile.importer import jpeglibretile as lj

    qt = lj.level_tables(level, workdir)  # every tile read must have them
    yield from _run(threads, bands, lambda lvl, rows: lj.band(lvl, rows, workdir, qt), level)


def _run(
    threads: int, bands: list[range], work: Callable[[Any, range], Iterable[RetiledTile]], arg: Any
) -> Iterator[RetiledTile]:
    """``work(arg, rows)`` of each band, in order, by ``threads`` threads, a few bands ahead
    (in one thread, its tiles as it makes them: the band's rows written as they come)."""
    if threads == 1:
        for rows in bands:
            yield from work(arg, rows)
        return

    def whole(rows: range) -> list[RetiledTile]:
        return list(work(arg, rows))

    with ThreadPoolExecutor(threads, thread_name_prefix="retile") as pool:
        pending: deque[Future[list[RetiledTile]]] = deque()
        try:
            for rows in bands:
                pending.append(pool.submit(whole, rows))
                if len(pending) > threads:  # one band waiting at most (bounded memory)
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
