"""IIIF and DeepZoom answers from the serving pyramid: the stored tile a request is equal to
(passthrough), else a render through the pipeline from the smallest tier that holds the
requested detail, then mirroring, rotation and the IIIF quality."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from cytotile.api.iiif.request import Rotation
from cytotile.pipeline import encode, outputs, process, render, sizes
from cytotile.pipeline.encode import Output
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.outputs import Options
from cytotile.pipeline.params import ImageParams
from cytotile.pipeline.regions import Target, WindowInput
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
    left, top = l0_region.left, l0_region.top
    for tier in pyramid.tiers:
        l0_span = tier.tile_width << tier.level  # a tile's width in level-0 pixels
        if left % l0_span or top % l0_span:
            continue
        tile_tx, tile_ty = left // l0_span, top // l0_span
        tile_width = min(tier.tile_width, tier.width - tile_tx * tier.tile_width)
        tile_height = min(tier.tile_height, tier.height - tile_ty * tier.tile_height)
        if tile_width <= 0 or tile_height <= 0:
            continue
        if abs(tile_width - width) > slack[0] or abs(tile_height - height) > slack[1]:
            continue
        l0_width = min(l0_span, base.width - left)
        l0_height = min(l0_span, base.height - top)
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


def plan(
    view: ImageView, params: ImageParams, l0_region: Region, size: tuple[int, int], opts: Options
) -> outputs.Plan:
    """The pipeline's plan of a level-0 region at ``size`` (which may distort it): the source
    tier and region, and the size rule, encoder limit and memory budget checked (TooLarge,
    OverBudget) before any pixel is read."""
    width, height = size
    planned = outputs.plan_window(view, WindowInput(l0_region), Target(height=height), params, opts)
    if (planned.width, planned.height) == (width, height) or planned.height != height:
        return planned  # as asked, or shrunk by the budget (X-Image-Size-Safety: SAFE_RESIZE)
    pyramid = view.pyramid  # a distorted size: the tier that holds both sides' detail
    tier = sizes.source_tier(pyramid, pyramid.base, l0_region, width, height)
    region = sizes.region_in(l0_region, pyramid.base, tier)
    return replace(planned, tier=tier, region=region, width=width, height=height)


def pixels(view: ImageView, params: ImageParams, plan: outputs.Plan) -> np.ndarray:
    """(height, width, 1|3) uint8 pixels of a plan (for what the pipeline does not do after
    rendering: rotations)."""
    sel = render.select(view, params.planes)
    stack = render.read_stack(view, sel, plan.tier.level, plan.region)
    manip = params.manipulation
    if render.is_identity(view, sel, manip, 8):
        out = encode.resize(stack, plan.width, plan.height)
        return process.convert_colorspace(out, manip.colorspace)
    channels = render.channel_renders(view, sel, manip, stack)
    return process.render(
        encode.resize(stack, plan.width, plan.height),
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
    view: ImageView, params: ImageParams, plan: outputs.Plan, rotation: Rotation, opts: Options
) -> Output:
    """The pipeline's rendering; rotated ones are rendered, rotated, then encoded."""
    if rotation.is_identity:
        return outputs.make(view, plan, params, opts)
    out = rotate(pixels(view, params, plan), rotation)
    data = encode.encode(out, opts.fmt, opts.quality)
    return Output(data, opts.fmt.media_type, headers=dict(plan.headers))
