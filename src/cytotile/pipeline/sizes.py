"""Geometry of the outputs: target sizes, the size limit, and which tier to read from."""

from __future__ import annotations

import math

from cytotile.errors import BadParameter, TileOutOfRange, TooLarge
from cytotile.pipeline.params import Safety
from cytotile.pipeline.regions import Target, WindowInput
from cytotile.pyramid import Pyramid, Region, Tier


class RegionOutOfBounds(TileOutOfRange):
    title = "Region out of bounds"


def _side(value: int | float, full: int) -> int:
    return max(1, round(value * full)) if isinstance(value, float) else int(value)


def scaled_size(
    target: Target, width: int, height: int, pyramid: Pyramid | None, ref: Tier | None = None
) -> tuple[int, int]:
    """The output size of ``target`` for a source of ``width`` x ``height`` (aspect kept).

    ``pyramid``: the tiers ``zoom``/``level`` refer to (None: they are ignored); the source is
    in the pixels of tier ``ref`` (level 0 when None)."""
    if pyramid is not None and (target.level is not None or target.zoom is not None):
        tier = (
            pyramid.at_level(target.level)
            if target.level is not None
            else pyramid.at_zoom(target.zoom or 0)
        )
        ref = ref or pyramid.base
        w = max(1, round(width * tier.width / ref.width))
        h = max(1, round(height * tier.height / ref.height))
        return w, h
    if target.height is not None:
        h = _side(target.height, height)
        return max(1, round(width * h / height)), h
    if target.width is not None:
        w = _side(target.width, width)
        return w, max(1, round(height * w / width))
    if target.length is not None:
        length = _side(target.length, max(width, height))
        if width >= height:
            return length, max(1, round(height * length / width))
        return max(1, round(width * length / height)), length
    return width, height


def limit(
    width: int, height: int, max_pixels: int, safety: Safety
) -> tuple[int, int, dict[str, str]]:
    """Apply the server's size limit: (width, height, extra response headers)."""
    if width * height <= max_pixels or safety is Safety.UNSAFE:
        return width, height, {}
    if safety is Safety.SAFE_REJECT:
        raise TooLarge(
            f"the answer would be {width}x{height} = {width * height} pixels, more than the "
            f"limit of {max_pixels}; ask a smaller size, or send X-Image-Size-Safety: SAFE_RESIZE"
        )
    ratio = math.sqrt(max_pixels / (width * height))
    safe_w, safe_h = max(1, math.floor(width * ratio)), max(1, math.floor(height * ratio))
    header = (
        f"ratio={ratio:.6f},request_width={width},request_height={height},"
        f"safe_width={safe_w},safe_height={safe_h}"
    )
    return safe_w, safe_h, {"X-Image-Size-Limit": header}


def source_tier(pyramid: Pyramid, ref: Tier, region: Region, width: int, height: int) -> Tier:
    """The smallest tier where ``region`` (of tier ``ref``) is at least ``width`` x ``height``."""
    for tier in reversed(pyramid.tiers):
        if (
            region.width * tier.width / ref.width >= width - 1e-6
            and region.height * tier.height / ref.height >= height - 1e-6
        ):
            return tier
    return pyramid.base


def region_in(region: Region, ref: Tier, tier: Tier) -> Region:
    """``region`` of tier ``ref`` mapped onto ``tier`` (rounded outwards, clipped)."""
    if tier is ref:
        return region
    fx, fy = tier.width / ref.width, tier.height / ref.height
    left, top = math.floor(region.left * fx), math.floor(region.top * fy)
    right = min(tier.width, max(left + 1, math.ceil(region.right * fx)))
    bottom = min(tier.height, max(top + 1, math.ceil(region.bottom * fy)))
    return Region(left, top, right - left, bottom - top)


def window_region(pyramid: Pyramid, win: WindowInput) -> tuple[Tier, Region]:
    """The reference tier and the window's region in it, checked against the tier."""
    if win.tier is None:
        ref = pyramid.base
    elif win.tier_kind == "zoom":
        ref = pyramid.at_zoom(win.tier)
    else:
        ref = pyramid.at_level(win.tier)
    if win.region is not None:
        region = win.region
        if region.right > ref.width or region.bottom > ref.height:
            raise RegionOutOfBounds(
                f"region {region.left},{region.top} {region.width}x{region.height} exceeds the "
                f"{ref.width}x{ref.height} reference tier (level {ref.level})"
            )
        return ref, region
    if win.ti is not None:
        tx, ty = ref.ti_to_txty(win.ti)
    elif win.tx is not None and win.ty is not None:
        tx, ty = win.tx, win.ty
    else:
        raise BadParameter("region: a region, a tile index ti, or tx and ty is required")
    return ref, ref.tile_region(tx, ty)
