"""Level 0 re-tiled through the C coefficient codec (``_jpegdct``): tables per level, not per tile.

Each thread takes a band of output rows. The source tiles an output row spans are transcoded a
row at a time (``transcode``), each tile entropy-decoded into its thread's coefficient planes of
one source tile (numpy ``int16``, blocks in natural order), which the tile's level 1 is made
from in the same call (:mod:`cytotile.importer.coefhalf`), and each block's AC symbols coded at
once with the level's Huffman tables, kept as its bit string beside its DC value (a store a
source tile); when the level keeps the source's own tables
(:mod:`cytotile.importer.dctsource`), the store is the tile's scan itself, unstuffed, each
block's AC bits found in it, not coded again. Each 256x256 output tile is then assembled from
the stores of the source tiles it covers (``assemble``): their blocks' bit strings copied, only
the DC differences coded again. A block is coded once however many output tiles the source
tile feeds, and no plane is kept for the output rows.

The level's tables and its decoding are :class:`~cytotile.importer.dctlevel.Coding`'s. A tile
is SOI, SOF, SOS, the scan and EOI (an Adobe marker after SOI when the components are R, G, B),
made whole by ``assemble``; an exact-size edge tile is a complete stream, tables included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from cytotile.importer.dctlevel import Coding, Store, codec
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.halfrow import HalfRow
    from cytotile.importer.retile import JpegLevel, RetiledTile

__all__ = ["Coding", "band", "blank_padding", "codec", "kept", "spanned"]


def spanned(tile_height: int) -> int:
    """Source rows (``tile_height`` pixels) an output row can span at most: it starts on a
    multiple of 256, at most ``tile_height - gcd`` into a source row (2 rows of 240 pixels, not
    3; 1 of 256 or 512)."""
    import math

    start = tile_height - math.gcd(TILE_SIZE, tile_height)
    return ceil_div(start + TILE_SIZE, tile_height)


def blank_padding(
    planes: Sequence[np.ndarray],
    blocks: Sequence[tuple[int, int]],
    mcu: tuple[int, int],
    width: int,
    height: int,
) -> None:
    """Zero the blocks of an edge tile's coefficient ``planes`` (each component's, its blocks
    covering ``blocks`` pixels) at least one MCU beyond the image's ``width`` x ``height`` pixels
    in it (:func:`kept`): the jpeglib path's."""
    keep_x, keep_y = (k * m for k, m in zip(kept(mcu, width, height), mcu, strict=True))
    for p, (bw, bh) in zip(planes, blocks, strict=True):
        p[:, keep_x // bw :] = 0
        p[keep_y // bh :] = 0


def kept(mcu: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    """MCUs (across, down) of an edge tile whose blocks keep the source's coefficients, the
    image's ``width`` x ``height`` pixels in it: the MCU the edge cuts and the next one, so that
    a decoder's chroma upsampling of the pixels inside is untouched. Beyond, the blocks are
    blank (zero coefficients): they held the source's own padding, whose texture costs bits."""
    return ceil_div(width, mcu[0]) + 1, ceil_div(height, mcu[1]) + 1


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
            opened.tiles = _encode_row(coding, ty, self.stores)(opened.step)
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


def needed(level: JpegLevel, ty: int) -> tuple[int, int]:
    """The source rows output row ``ty`` spans: ``range(*needed(level, ty))``."""
    l0_y = ty * TILE_SIZE
    last = min(level.n_ty, ceil_div(l0_y + TILE_SIZE, level.tile_height))
    return l0_y // level.tile_height, last


def _encode_row(
    coding: Coding, ty: int, stores: dict[int, list[Store]]
) -> Callable[[Any], Callable[[list[Any]], list[RetiledTile]]]:
    """What opens the assembly of output row ``ty``'s tiles from the source rows' ``stores``
    in a codec step (``step_assemble``: an edge tile's exact-size one beside it) and returns
    what makes the row's tiles of the step's results."""
    from cytotile.importer.retile import NotRetilable, RetiledTile

    level, lib, prefix = coding.level, coding.lib, coding.prefix
    huffman, shared = coding.huffman, coding.tables
    tables = huffman.prepared
    heads = [b"\xff\xd8" + prefix + head for head in coding.heads]  # a 256x256 tile's, each set
    choice = huffman.choose(ty)
    tile_w, tile_h = level.tile_width, level.tile_height
    mcu_w, mcu_h = coding.mcu
    full = (TILE_SIZE // mcu_w, TILE_SIZE // mcu_h)
    source_mcus = (tile_w // mcu_w, tile_h // mcu_h)
    l0_y = ty * TILE_SIZE
    height = min(TILE_SIZE, level.height - l0_y)
    sy0, sy1 = l0_y // tile_h, (l0_y + TILE_SIZE - 1) // tile_h
    n_x = ceil_div(level.width, TILE_SIZE)

    def open_row(step: Any) -> Callable[[list[Any]], list[RetiledTile]]:
        rows = [stores.get(sy) for sy in range(sy0, sy1 + 1)]  # None: past the source's grid
        jobs: list[tuple[int, int | None]] = []  # each tile's: (padded, exact-size)
        for tx in range(n_x):
            which, l0_x = choice[tx], tx * TILE_SIZE
            sx0, sx1 = l0_x // tile_w, (l0_x + TILE_SIZE - 1) // tile_w
            sources = tuple(
                row[sx] if row is not None and sx < level.n_tx else None
                for row in rows
                for sx in range(sx0, sx1 + 1)
            )
            grid = (sx1 - sx0 + 1, len(rows))
            origin = ((l0_x - sx0 * tile_w) // mcu_w, (l0_y - sy0 * tile_h) // mcu_h)
            width = min(TILE_SIZE, level.width - l0_x)
            at = (step, sources, grid, origin, source_mcus, coding.sampling)
            try:  # each a whole stream (SOI, its headers, the scan, EOI), coded at once
                if (width, height) == (TILE_SIZE, TILE_SIZE):
                    jobs.append(
                        (lib.step_assemble(*at, full, full, tables, which, heads[which]), None)
                    )
                    continue
                # blank beyond the MCU the edge cuts and the next (kept); exact-size too
                keep = kept(coding.mcu, width, height)
                padded = lib.step_assemble(*at, full, keep, tables, which, heads[which])
                mcus = (ceil_div(width, mcu_w), ceil_div(height, mcu_h))
                head = b"\xff\xd8" + prefix + shared[2:-2] + coding.header(which, width, height)
                jobs.append((padded, lib.step_assemble(*at, mcus, keep, tables, which, head)))
            except ValueError as exc:
                raise NotRetilable(f"re-tiled coefficients: {exc}") from exc

        def tiles(results: list[Any]) -> list[RetiledTile]:
            made = []
            for tx, (padded, exact) in enumerate(jobs):
                data, edge = results[padded], None if exact is None else results[exact]
                for result in (data, edge):
                    if isinstance(result, ValueError):
                        raise NotRetilable(f"re-tiled coefficients: {result}") from result
                    if isinstance(result, BaseException):
                        raise result
                made.append(RetiledTile(tx, ty, shared, data, edge))
            return made

        return tiles

    return open_row
