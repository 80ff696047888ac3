"""Level 1 from the coefficients the re-tiling already decodes: no second decode of the source.

Each re-tiling band (:func:`cytotile.importer.dctsteps.band`) starts every source row whose top
is in its band (:meth:`HalfRows.start`), and the transcoding of each tile makes its level 1 in
the same call (:meth:`HalfRow.job`'s arguments), its coefficients still in the caches: the
C codec (``_jpegdct.half``) makes its pixels at half scale from the coefficient planes
(dequantized with the level's tables; a block's 2x2 box means, 4x4 from each 8x8 block; a
2x2-subsampled chroma
block in full, 8x8, no upsampling), YCbCr -> RGB as libjpeg does (JFIF) when the TIFF says
YCbCr, and counts their histogram. The rows reach the lower tiers' thread in order
(:meth:`HalfRows.rows`), the bands running ahead by a bounded number of rows.

Tiles cut by the image's edge come this way too when every component is sampled in full (an
odd cut's last pixel column or row paired with itself, as a box mean of the image pairs it);
with 4:2:0 chroma, a tile cut by the right edge and the whole last row when the bottom edge cuts
it are decoded in full and box-halved by the lower tiers' thread
(:mod:`cytotile.importer.levelone`), so that their padding never bleeds into level 1.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

from cytotile.errors import ConversionError
from cytotile.importer.halfrow import HalfRow
from cytotile.importer.levelone import count_half
from cytotile.pyramid import ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.crew import Crew
    from cytotile.importer.dctlevel import Coding
    from cytotile.importer.lower import TierBuilder
    from cytotile.importer.retile import JpegLevel

#: level-1 rows the bands may hold, made but not yet taken (bytes): the bands' lead is bounded
AHEAD_BYTES = 96 * 1024 * 1024


def supported(level: JpegLevel, lib: ModuleType | None) -> bool:
    """Whether the codec makes this level's half-scale pixels: grey, or 3 components each
    sampled at the frame's rate or half of it both ways (4:4:4, 4:2:0)."""
    if lib is None or not hasattr(lib, "half"):
        return False
    components = level.frame.components
    h_max = max(c[1] for c in components)
    v_max = max(c[2] for c in components)
    return len(components) in (1, 3) and all(
        h_max % c[1] == 0 and v_max % c[2] == 0 and h_max // c[1] == v_max // c[2] in (1, 2)
        for c in components
    )


def for_level(level: JpegLevel, complete_pixels: int) -> HalfRows | None:
    """Level 1 from the re-tiling's coefficients, when the level has a level 1 (more than
    ``complete_pixels``) and the C codec makes its sampling; else None (libjpeg's decode)."""
    from cytotile.importer.dctlevel import codec

    lib = codec()
    if level.width * level.height <= complete_pixels or not supported(level, lib):
        return None
    assert lib is not None
    return HalfRows(level, lib)


def feed_tiers(level: JpegLevel, tier: TierBuilder, counts: np.ndarray, halves: HalfRows) -> None:
    """Level 1 to ``tier`` and its counts to ``counts``, from the bands' rows (the lower tiers'
    thread); a tile the image's edge cuts at an odd pixel decoded here, in full, and
    box-halved."""
    from cytotile.importer.levelone import HalfTiles
    from cytotile.importer.sourcetiles import SourceTiles

    across_w = halves.across * halves.half_w  # level 1's columns made by the bands
    with SourceTiles(level) as source:
        edges = HalfTiles(source)
        # the last row first, while the bands make the first ones: not left for the end
        bottom = edges.row(level.n_ty - 1) if halves.made < level.n_ty else None
        for sy, strip, made in halves.rows():
            if halves.across < level.n_tx:  # the last tile, cut by the right edge
                strip[:, across_w:] = edges.edge(level.n_tx - 1, sy)
                height = min(level.tile_height, level.height - sy * level.tile_height)
                count_half(counts, strip[:, across_w:], height, halves.last_w)
            counts += made
            tier.feed(strip)
        if bottom is not None:  # the last row, cut by the bottom edge
            strip, height = bottom
            count_half(counts, strip, height, level.width)
            tier.feed(strip)


class Stopped(ConversionError):
    """The re-tiling or the lower tiers stopped: no more rows."""


class HalfRows:
    """Level 1's rows of whole source tiles, made by the re-tiling bands, taken in order."""

    def __init__(self, level: JpegLevel, lib: ModuleType) -> None:
        self.level, self.lib = level, lib
        self.samples = len(level.frame.components)
        self.half_w = level.tile_width // 2
        self.last_w = level.width - (level.n_tx - 1) * level.tile_width
        self.last_h = level.height - (level.n_ty - 1) * level.tile_height
        #: source tiles of a row whose halves are whole (the last one, if cut, is not)
        self.whole = level.n_tx if self.last_w == level.tile_width else level.n_tx - 1
        #: tiles of a row made here: an edge tile too when every component is sampled in full
        #: (an odd cut's last pixel column or row paired with itself: ``half``'s ``edge``);
        #: 4:2:0 chroma at the edge is nearer the box mean decoded in full (libjpeg upsamples
        #: it; ``half`` keeps its samples, which the padding may have pulled): the caller
        #: decodes it
        full = all(c[1:3] == level.frame.components[0][1:3] for c in level.frame.components)
        self.across = level.n_tx if full else self.whole
        self.width = ceil_div(level.width, 2)  # level 1's
        #: source rows made here: all but a last one the bottom edge cuts (unless sampled in
        #: full)
        whole_h = self.last_h == level.tile_height
        self.made = level.n_ty if whole_h or full else level.n_ty - 1
        strip = level.tile_height // 2 * self.width * self.samples
        self.ahead = max(2, AHEAD_BYTES // max(1, strip))
        self.ycc = level.photometric == 6 and self.samples == 3
        self._cond = threading.Condition()
        self._ready: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        #: strips the lower tiers are done with, made again (a new one each row was mapped
        #: and faulted in: made in the bands' threads, freed in the lower tiers')
        self._spare: list[np.ndarray] = []
        self._next = 0  # the next row taken
        self._stopped = False
        self._closed = False  # every band done: a row not made by now never will be

    def put(
        self,
        sy: int,
        planes: tuple[np.ndarray, ...],
        coding: Coding,
        crew: Crew | None = None,
    ) -> None:
        """Source row ``sy``, whose coefficients are the ``planes`` (one source row deep: a
        re-tiling band's thread, its ``crew`` sharing the tiles): its level-1
        pixels and their counts (:meth:`start`, each tile made, :meth:`HalfRow.finish`)."""
        row = self.start(sy, planes, coding)
        if row is None:
            return
        if crew is None:
            row.make(range(self.across))
        else:
            crew.run(row.make, self.across)
        row.finish()

    def start(
        self, sy: int, planes: tuple[np.ndarray, ...] | None, coding: Coding
    ) -> HalfRow | None:
        """Source row ``sy``'s level-1 pixels to make, a tile at a time, right after its
        decoding, while its coefficients are in the caches: by the transcoding itself
        (:meth:`HalfRow.job`'s arguments), or from the ``planes`` (one source row deep) once the
        row's tiles are decoded there (:meth:`HalfRow.make`); then handed on
        (:meth:`HalfRow.finish`). None when the row is not made here or the lower tiers
        stopped. Waits while the bands are :data:`AHEAD_BYTES` ahead of the lower tiers."""
        import numpy as np

        if sy >= self.made:
            return None
        with self._cond:
            while not self._stopped and sy - self._next >= self.ahead:
                self._cond.wait()
            if self._stopped:
                return None
            strip = self._spare.pop() if self._spare else None  # one the lower tiers are done with
        level = self.level
        if strip is None:
            columns = max(self.width, self.across * self.half_w)  # half's: whole tiles' halves
            strip = np.empty((level.tile_height // 2, columns, self.samples), np.uint8)
        return HalfRow(self, sy, planes, coding, strip)

    def hand_on(self, sy: int, strip: np.ndarray, done: np.ndarray, counts: np.ndarray) -> None:
        """Row ``sy`` made (:meth:`HalfRow.finish`): its ``strip``, level 1's rows ``done`` of
        it, their ``counts``, for :meth:`rows`."""
        with self._cond:
            self._ready[sy] = (strip, done, counts)
            self._cond.notify_all()

    def rows(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(sy, strip, counts) of each row made here, in order (the lower tiers' thread):
        ``strip`` is level 1's rows of source row ``sy``, its whole tiles' part filled and
        counted in ``counts`` (4 a pixel), the rest for the caller to fill; valid until the
        caller asks for the next row (its buffer is made again)."""
        for sy in range(self.made):
            with self._cond:
                while sy not in self._ready and not self._stopped and not self._closed:
                    self._cond.wait()
                if self._stopped:
                    raise Stopped("the re-tiling stopped")
                if sy not in self._ready:
                    raise Stopped(f"the re-tiling made no level-1 row {sy}")
                strip, done, counts = self._ready.pop(sy)
                self._next = sy + 1
                self._cond.notify_all()
            yield sy, done, counts
            with self._cond:  # the caller is done with it (it asks for the next row)
                self._spare.append(strip)

    def close(self) -> None:
        """Every band is done (the re-tiling's caller): rows still missing never come."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def stop(self) -> None:
        """No more rows (either side failed or gave up): nobody waits any longer."""
        with self._cond:
            self._stopped = True
            self._ready.clear()
            self._cond.notify_all()
