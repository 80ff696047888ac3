"""The normalized pyramid: tiers, zoom/level conversion and tile indexing.

A normalized pyramid (PIMS's definition) has 256x256 tiles; each tier is half the previous
one, rounded up, until a tier fits in one tile. Level 0 is the full resolution; zoom 0 is the
smallest tier. Coordinates are prefixed by their space: ``l0_`` (level 0 pixels), ``tier_``
(pixels of one tier), ``tile_`` (tile grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from cytotile.errors import BadParameter, TierOutOfRange, TileOutOfRange

TILE_SIZE = 256


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Region:
    """A rectangle in the pixel space of one tier."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height


class TileGrid:
    """Tiles of ``tile_width`` x ``tile_height`` over ``width`` x ``height`` pixels (the last
    row and column cut by the edge): what a tier and a source's level share."""

    width: int
    height: int
    tile_width: int
    tile_height: int

    @property
    def n_tx(self) -> int:
        return ceil_div(self.width, self.tile_width)

    @property
    def n_ty(self) -> int:
        return ceil_div(self.height, self.tile_height)


@dataclass(frozen=True)
class Tier(TileGrid):
    level: int
    zoom: int
    width: int
    height: int
    l0_width: int
    l0_height: int
    tile_width: int = TILE_SIZE
    tile_height: int = TILE_SIZE

    @property
    def n_tiles(self) -> int:
        return self.n_tx * self.n_ty

    @property
    def width_factor(self) -> float:
        return self.l0_width / self.width

    @property
    def height_factor(self) -> float:
        return self.l0_height / self.height

    @property
    def downsampling_factor(self) -> float:
        return (self.width_factor + self.height_factor) / 2

    def ti_to_txty(self, tile_index: int) -> tuple[int, int]:
        if not 0 <= tile_index < self.n_tiles:
            raise TileOutOfRange(
                f"tile index {tile_index} is outside 0..{self.n_tiles - 1} at level {self.level}"
            )
        return tile_index % self.n_tx, tile_index // self.n_tx

    def txty_to_ti(self, tile_tx: int, tile_ty: int) -> int:
        self.check_txty(tile_tx, tile_ty)
        return tile_ty * self.n_tx + tile_tx

    def check_txty(self, tile_tx: int, tile_ty: int) -> None:
        if not (0 <= tile_tx < self.n_tx and 0 <= tile_ty < self.n_ty):
            raise TileOutOfRange(
                f"tile ({tile_tx}, {tile_ty}) is outside the {self.n_tx}x{self.n_ty} grid "
                f"at level {self.level}"
            )

    def tile_region(self, tile_tx: int, tile_ty: int) -> Region:
        """The tier pixels a tile covers; right-most and bottom-most tiles may be smaller."""
        self.check_txty(tile_tx, tile_ty)
        left = tile_tx * self.tile_width
        top = tile_ty * self.tile_height
        return Region(
            left,
            top,
            min(self.tile_width, self.width - left),
            min(self.tile_height, self.height - top),
        )

    def is_edge_tile(self, tile_tx: int, tile_ty: int) -> bool:
        region = self.tile_region(tile_tx, tile_ty)
        return region.width < self.tile_width or region.height < self.tile_height

    def to_info(self) -> dict[str, int | float]:
        """The tier as PIMS's ``pyramid-info`` describes it."""
        return {
            "zoom": self.zoom,
            "level": self.level,
            "width": self.width,
            "height": self.height,
            "tile_width": self.tile_width,
            "tile_height": self.tile_height,
            "downsampling_factor": self.downsampling_factor,
            "n_tiles": self.n_tiles,
            "n_tx": self.n_tx,
            "n_ty": self.n_ty,
        }


def normalized_sizes(
    l0_width: int, l0_height: int, tile_size: int = TILE_SIZE
) -> list[tuple[int, int]]:
    """Tier sizes from level 0: halve with ceil until both sides fit in one tile."""
    if l0_width < 1 or l0_height < 1:
        raise BadParameter(f"image size must be positive, got {l0_width}x{l0_height}")
    sizes = [(l0_width, l0_height)]
    width, height = l0_width, l0_height
    while width > tile_size or height > tile_size:
        width, height = ceil_div(width, 2), ceil_div(height, 2)
        sizes.append((width, height))
    return sizes


class Pyramid:
    """The normalized pyramid of an image of ``l0_width`` x ``l0_height`` pixels."""

    def __init__(self, l0_width: int, l0_height: int, tile_size: int = TILE_SIZE) -> None:
        sizes = normalized_sizes(l0_width, l0_height, tile_size)
        top = len(sizes) - 1
        self.tiers = [
            Tier(level, top - level, w, h, l0_width, l0_height, tile_size, tile_size)
            for level, (w, h) in enumerate(sizes)
        ]

    @property
    def n_tiers(self) -> int:
        return len(self.tiers)

    @property
    def max_level(self) -> int:
        return len(self.tiers) - 1

    @property
    def base(self) -> Tier:
        return self.tiers[0]

    def level_to_zoom(self, level: int) -> int:
        return self.at_level(level).zoom

    def zoom_to_level(self, zoom: int) -> int:
        return self.at_zoom(zoom).level

    def at_level(self, level: int) -> Tier:
        if not 0 <= level <= self.max_level:
            raise TierOutOfRange(f"level {level} is outside 0..{self.max_level}")
        return self.tiers[level]

    def at_zoom(self, zoom: int) -> Tier:
        if not 0 <= zoom <= self.max_level:
            raise TierOutOfRange(f"zoom {zoom} is outside 0..{self.max_level}")
        return self.tiers[self.max_level - zoom]

    def most_appropriate_tier(self, width: float, height: float) -> Tier:
        """The smallest tier at least as large as a (virtual) tier of ``width`` x ``height``.

        Reading from it and then downsizing never upsamples, except when the request is larger
        than level 0.
        """
        for tier in reversed(self.tiers):
            if tier.width >= width and tier.height >= height:
                return tier
        return self.base

    @cached_property
    def info(self) -> dict[str, object]:
        return {"n_tiers": self.n_tiers, "tiers": [t.to_info() for t in self.tiers]}
