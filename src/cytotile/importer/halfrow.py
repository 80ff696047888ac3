"""A source row's level 1 being made (:meth:`cytotile.importer.coefhalf.HalfRows.start`): tile
by tile, each right after its transcoding (:meth:`HalfRow.make`), then its counts completed and
the row handed to the lower tiers (:meth:`HalfRow.finish`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cytotile.importer.levelone import count_half
from cytotile.pyramid import ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.coefhalf import HalfRows
    from cytotile.importer.dctlevel import Coding


class HalfRow:
    """A source row's level-1 pixels being made (:meth:`HalfRows.start`): its strip, and the
    counts of each tile made (whole tiles: the edge tile's are counted by :meth:`finish`)."""

    def __init__(
        self,
        rows: HalfRows,
        sy: int,
        planes: tuple[np.ndarray, ...] | None,
        coding: Coding,
        strip: np.ndarray,
    ) -> None:
        import numpy as np

        level = rows.level
        self.rows, self.sy, self.planes = rows, sy, planes
        self.coding, self.strip = coding, strip
        self.quant = b"".join(
            coding.quant[128 * c[3] : 128 * c[3] + 128] for c in level.frame.components
        )
        self.height = level.tile_height if sy < level.n_ty - 1 else rows.last_h
        #: tiles counted by half: the whole ones of a row of full height
        self.whole = rows.whole if self.height == level.tile_height else 0
        #: each whole tile's counts (``half`` adds to them)
        self.counts = np.zeros((self.whole, 256, rows.samples), np.int64)

    def make(self, part: range) -> None:
        """The level-1 pixels of tiles ``part`` of the row from its decoded planes, a ``half``
        call each, with :meth:`job`'s arguments (any thread; a tile the row does not make here,
        past :attr:`HalfRows.across`, is left)."""
        level, block = self.rows.level, self.coding.block
        assert self.planes is not None, "a row made by the transcoding has no planes"
        for k in part:
            args = self.job(k)
            if args is None:
                continue
            views = tuple(
                p[:, k * level.tile_width // bw : (k + 1) * level.tile_width // bw]
                for p, (bw, _) in zip(self.planes, block, strict=True)
            )
            self.rows.lib.half(views, *args)

    def job(self, k: int) -> tuple[Any, ...] | None:
        """Tile ``k``'s level 1 as the codec's ``transcode`` makes it right after decoding the
        tile into its own planes (its ``half`` argument: the row's planes but the tile's), or
        None when the row does not make tile ``k`` here (past :attr:`HalfRows.across`)."""

        rows, level = self.rows, self.rows.level
        if k >= rows.across:
            return None
        made = self.strip[:, k * rows.half_w : (k + 1) * rows.half_w]
        share = self.counts[k] if k < self.whole else None  # counted there
        inside = min(level.width - k * level.tile_width, level.tile_width)
        return (self.coding.sampling, self.quant, rows.ycc, made, share, (inside, self.height))

    def finish(self) -> None:
        """Every tile made: the row's counts completed (the tiles half did not count) and the
        row handed to the lower tiers."""

        rows, level = self.rows, self.rows.level
        total = 4 * self.counts.sum(axis=0)  # each level-1 pixel stands for 2x2 of level 0
        done = self.strip[: ceil_div(self.height, 2), : rows.width]
        uncounted = self.whole * rows.half_w
        covered = min(level.width, rows.across * level.tile_width) - self.whole * level.tile_width
        count_half(
            total, done[:, uncounted : uncounted + ceil_div(covered, 2)], self.height, covered
        )
        rows.hand_on(self.sy, self.strip, done, total)
