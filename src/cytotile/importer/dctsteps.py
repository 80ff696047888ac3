"""A re-tiling band's steps: each the transcoding of a source row and the assembly of an output
row whose source rows an earlier step transcoded (:mod:`cytotile.importer.dctretile`), opened in
the C codec, run by its own worker threads beside the caller.

A step's work is opened with the GIL (``step_transcode``: :meth:`Coding.row_jobs`;
``step_assemble``: :func:`~cytotile.importer.dctretile.assembly`), begun by the codec's worker
threads (``step_start``: pthreads that never take the GIL) and joined by the caller
(``step_join``), who then takes each job's result (``step_finish``). The caller opens the next
step while the workers run this one, so a step's Python (its jobs' arguments, its results
handed on: the stores, level 1's row, the tiles) runs beside the codec's work, and the GIL is
taken and released once a step, not once a tile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from cytotile.importer.dctretile import assembly, needed
from cytotile.pyramid import TILE_SIZE

if TYPE_CHECKING:
    from cytotile.importer.dctlevel import Coding, Store
    from cytotile.importer.halfrow import HalfRow
    from cytotile.importer.retile import RetiledTile


def band(coding: Coding, rows: range, helpers: int = 0) -> Iterator[RetiledTile]:
    """The tiles of output rows ``rows``, a row at a time, transcoding the source rows they span
    once each; each step of the band shared with ``helpers`` of the codec's worker threads.

    A step is the transcoding of a source row and the assembly of an output row whose source
    rows an earlier step transcoded, opened in the codec (``step_transcode``,
    ``step_assemble``), begun by the codec's own worker threads (``step_start``: pthreads that
    never take the GIL) and joined by the caller (``step_join``). The caller opens the next
    step while the workers run this one (so an assembly waits for a step finished before its
    own is opened) and starts it, then joins this one and hands its results on (the stores,
    level 1's row, the tiles): a worker done with this step goes on with the next."""
    lib = coding.lib
    plan = _Plan(coding, rows)
    running: _Opened | None = None
    opened: _Opened | None = None
    try:
        while True:
            opened = plan.open()
            if opened is not None:  # begun by the workers, before they are done with this one
                lib.step_start(opened.step, helpers)
            elif running is None:
                break
            if running is not None:
                lib.step_join(running.step, coding.tile_planes())
                results = lib.step_finish(running.step)
                done, running = running, None
                yield from plan.taken(done, results)
            running, opened = opened, None
    finally:  # a failure, or the caller gone: no worker is left at a step (its buffers)
        for left in (running, opened):
            if left is not None:
                with contextlib.suppress(Exception):
                    lib.step_join(left.step, coding.tile_planes())
    assert plan.next_ty == rows.stop, "the band's rows all made"


class _Opened:
    """A step opened: what makes its results into the row's stores, level 1's row, tiles."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.sy: int | None = None  # the source row it transcodes
        self.half: HalfRow | None = None
        self.stores: Callable[[list[Any]], list[Store]] | None = None
        self.tiles: Callable[[list[Any]], list[RetiledTile]] | None = None


class _Plan:
    """What a band's next step holds: the next source row (while the next two output rows need
    it), and the next output row once the steps that transcoded its source rows are done."""

    def __init__(self, coding: Coding, rows: range) -> None:
        self.coding, self.rows = coding, rows
        level = coding.level
        self.next_sy = needed(level, rows.start)[0]
        self.last_sy = needed(level, rows.stop - 1)[1]
        self.next_ty = rows.start
        self.stores: dict[int, list[Store]] = {}  # by source row, the steps done

    def open(self) -> _Opened | None:
        """The next step, opened (None: nothing to open until a running step is done)."""
        coding, level, rows = self.coding, self.coding.level, self.rows
        opened: _Opened | None = None
        upto = needed(level, min(self.next_ty + 2, rows.stop - 1))[1]
        if self.next_sy < min(upto, self.last_sy):
            opened = _Opened(coding.lib.step_new(coding.tile_planes()))
            sy = opened.sy = self.next_sy
            if coding.halves is not None and sy * level.tile_height >= rows.start * TILE_SIZE:
                opened.half = coding.halves.start(sy, None, coding)  # the band's own rows
            half = opened.half.job if opened.half is not None else None
            opened.stores = coding.row_jobs(opened.step, sy, half)
            self.next_sy += 1
        ty = self.next_ty
        if ty < rows.stop and all(sy in self.stores for sy in range(*needed(level, ty))):
            if opened is None:
                opened = _Opened(coding.lib.step_new(coding.tile_planes()))
            opened.tiles = assembly(coding, ty, self.stores)(opened.step)
            self.next_ty += 1
        return opened

    def taken(self, done: _Opened, results: list[Any]) -> list[RetiledTile]:
        """A step's results handed on: its stores kept (those no row to come needs dropped),
        its level-1 row to the lower tiers; its tiles."""
        if done.stores is not None:
            assert done.sy is not None
            self.stores[done.sy] = done.stores(results)
        tiles = done.tiles(results) if done.tiles is not None else []
        first = needed(self.coding.level, min(self.next_ty, self.rows.stop - 1))[0]
        for sy in [sy for sy in self.stores if sy < first]:
            del self.stores[sy]
        if done.half is not None:
            done.half.finish()
        return tiles
