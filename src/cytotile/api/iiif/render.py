"""IIIF and DeepZoom answers from the serving pyramid: the stored tile a request is equal to
(passthrough), else a render through the pipeline from the smallest tier that holds the
requested detail, then mirroring, rotation and the IIIF quality."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from cytotile.api.iiif.request import Rotation
from cytotile.pipeline import encode, process, render, sizes
from cytotile.pipeline.encode import Format
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import ImageParams
from cytotile.pyramid import Pyramid, Region, Tier

if TYPE_CHECKING:
    import numpy as np

#: white: what shows in the corners of an arbitrary rotation
BACKGROUND = 255


def stored_tile(
    pyramid: Pyramid, l0_region: Region, width: int, height: int, slack: tuple[int, int] = (0, 0)
) -> tuple[Tier, int, int] | None:
    """The tier and tile whose stored pixels are exactly this request: the region covers that
    tile's footprint in level 0 and the size is the tile's own size. ``slack``: how far each
    side may be from the tile's when the request computed it from the aspect ratio (``w,``
    gives a height rounded from the region's ratio; the tile's is ceil-halved)."""
    base = pyramid.base
    for tier in pyramid.tiers:
        l0_span = tier.tile_width << tier.level  # a tile's width in level-0 pixels
        if l0_region.left % l0_span or l0_region.top % l0_span:
            continue
        tile_tx, tile_ty = l0_region.left // l0_span, l0_region.top // l0_span
        if tile_tx >= tier.n_tx or tile_ty >= tier.n_ty:
            continue
        tile = tier.tile_region(tile_tx, tile_ty)
        if abs(tile.width - width) > slack[0] or abs(tile.height - height) > slack[1]:
            continue
        l0_width = min(l0_span, base.width - l0_region.left)
        l0_height = min(l0_span, base.height - l0_region.top)
        if (l0_region.width, l0_region.height) == (l0_width, l0_height):
            return tier, tile_tx, tile_ty
    return None


def quality_params(params: ImageParams, quality: str) -> ImageParams:
    """IIIF qualities as pipeline manipulations: gray is a luminance, bitonal an Otsu
    threshold of it, color forces three bands."""
    manip = params.manipulation
    if quality == "gray":
        manip = replace(manip, colorspace="GRAY")
    elif quality == "bitonal":
        manip = replace(manip, colorspace="GRAY", filter=manip.filter or "OTSU")
    elif quality == "color":
        manip = replace(manip, colorspace="COLOR")
    return replace(params, manipulation=manip)


def pixels(
    view: ImageView, params: ImageParams, l0_region: Region, width: int, height: int
) -> np.ndarray:
    """(height, width, 1|3) uint8 pixels of a level-0 region, read from the smallest tier
    where the region is at least the asked size."""
    pyramid = view.pyramid
    tier = sizes.source_tier(pyramid, pyramid.base, l0_region, width, height)
    tier_region = sizes.region_in(l0_region, pyramid.base, tier)
    sel = render.select(view, params.planes)
    stack = render.read_stack(view, sel, tier.level, tier_region)
    manip = params.manipulation
    if render.is_identity(view, sel, manip, 8):
        out = encode.resize(stack, width, height)
        return process.convert_colorspace(out, manip.colorspace)
    channels = render.channel_renders(view, sel, manip, stack)
    return process.render(
        encode.resize(stack, width, height),
        channels,
        log=manip.log,
        filter_id=manip.filter,
        colorspace=manip.colorspace,
        bits=8,
    )


def rotate(image: np.ndarray, rotation: Rotation) -> np.ndarray:
    """Mirror (left-right) first, then rotate clockwise."""
    import numpy as np

    if rotation.mirror:
        image = image[:, ::-1]
    degrees = rotation.degrees
    if degrees % 90 == 0:
        return np.ascontiguousarray(np.rot90(image, k=-int(degrees // 90)))
    vips = encode.to_vips(np.ascontiguousarray(image))
    turned = vips.rotate(degrees, background=[BACKGROUND] * vips.bands)
    return encode.from_vips(turned.cast("uchar"))


def render_image(
    view: ImageView,
    params: ImageParams,
    l0_region: Region,
    size: tuple[int, int],
    rotation: Rotation,
    fmt: Format,
    jpeg_quality: int,
) -> bytes:
    out = pixels(view, params, l0_region, *size)
    if not rotation.is_identity:
        out = rotate(out, rotation)
    return encode.encode(out, fmt, jpeg_quality)
