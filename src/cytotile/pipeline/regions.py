"""Request models of what an output covers and its size: tiles, window regions, target sizes.

Parsing checks types and ranges; checks against the image (tiers, tile grid, region bounds)
happen in :mod:`cytotile.pipeline.sizes` when the output is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from cytotile.errors import BadParameter
from cytotile.pipeline.args import Args, to_int
from cytotile.pyramid import Region


@dataclass(frozen=True)
class Target:
    """A target size; precedence: level > zoom > height > width > length. Lengths may be a
    fraction (0, 1] of the source's."""

    length: int | float | None = None
    width: int | float | None = None
    height: int | float | None = None
    zoom: int | None = None
    level: int | None = None


@dataclass(frozen=True)
class TileRef:
    """A tile: a tier (``kind`` "zoom" or "level") and an index or coordinates."""

    kind: str
    tier: int
    ti: int | None = None
    tx: int | None = None
    ty: int | None = None


@dataclass(frozen=True)
class WindowInput:
    """A window's input region, in a reference tier (None: level 0)."""

    region: Region | None = None
    ti: int | None = None
    tx: int | None = None
    ty: int | None = None
    tier_kind: str = "level"
    tier: int | None = None


def _length(args: Args, name: str) -> int | float | None:
    value = args.one(name)
    if value is None:
        return None
    if isinstance(value, float) or (isinstance(value, str) and "." in value):
        number = float(value) if not isinstance(value, str) else _float(name, value)
        if not 0 < number <= 1:
            raise BadParameter(f"{name}: a fraction must be in (0, 1], got {value!r}")
        return number
    return to_int(name, value, 1)


def _float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadParameter(f"{name}: a number is expected, got {text!r}") from None


def parse_target(args: Args, *, tiers: bool, default_length: int | None = None) -> Target:
    target = Target(
        length=_length(args, "length"),
        width=_length(args, "width"),
        height=_length(args, "height"),
        zoom=args.get_int("zoom") if tiers else None,
        level=args.get_int("level") if tiers else None,
    )
    if all(v is None for v in vars(target).values()) and default_length is not None:
        return Target(length=default_length)
    return target


def parse_tile_ref(args: Args) -> TileRef:
    """The generic ``POST .../normalized-tile`` body: zoom or level, and ti or tx and ty."""
    zoom, level = args.get_int("zoom"), args.get_int("level")
    if (zoom is None) == (level is None):
        raise BadParameter("zoom, level: exactly one of zoom and level is required")
    kind, tier = ("zoom", zoom) if zoom is not None else ("level", level)
    assert tier is not None
    ti, tx, ty = args.get_int("ti"), args.get_int("tx"), args.get_int("ty")
    if ti is None and (tx is None or ty is None):
        raise BadParameter("ti, tx, ty: a tile index ti, or both tx and ty, is required")
    return TileRef(kind, tier, ti, tx, ty)


def parse_window(args: Args) -> WindowInput:
    kind = (args.get_str("tier_index_type") or "LEVEL").upper()
    if kind not in ("LEVEL", "ZOOM"):
        raise BadParameter(f"tier_index_type: {kind!r} is not one of LEVEL, ZOOM")
    tier = args.get_int("reference_tier_index")
    raw = args.raw("region")
    ti, tx, ty = args.get_int("ti"), args.get_int("tx"), args.get_int("ty")
    region = None
    if raw is not None:
        if not isinstance(raw, dict):
            raise BadParameter("region: an object {left, top, width, height} is expected")
        missing = [k for k in ("left", "top", "width", "height") if raw.get(k) is None]
        if missing:
            raise BadParameter(f"region: {', '.join(missing)} missing")
        region = Region(
            to_int("region.left", raw["left"], 0),
            to_int("region.top", raw["top"], 0),
            to_int("region.width", raw["width"], 1),
            to_int("region.height", raw["height"], 1),
        )
    elif ti is None and (tx is None or ty is None):
        raise BadParameter("region: a region, a tile index ti, or tx and ty is required")
    return WindowInput(region, ti, tx, ty, kind.lower(), tier)
