"""Annotation outputs: masks, crops, drawings, and windows with annotations.

The region is either the annotations' envelope (``annotation/*``) or a window's region; the
output grid is that region at the target size (the size limit applied), and geometries are
mapped onto it: level-0 coordinates -> the region's reference tier -> output pixels.

- MASK: black background, each geometry filled with its ``fill_color`` (later ones on top); one
  grey band when every colour is grey, else RGB. No image is read.
- CROP: the image with an alpha band: opaque inside the geometries, ``1 - transparency / 100``
  outside (JPEG has no alpha: flattened on black, as libvips saves an alpha image as JPEG).
- DRAWING: the image with each geometry's fill (when given) and stroke painted over it,
  blended by the colours' alpha; a grey image becomes RGB when a colour is not grey.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cytotile.annotations.compose import crop_alpha, draw, encode_alpha, mask_pixels
from cytotile.annotations.geometry import Annotation, envelope
from cytotile.pipeline import encode, outputs, sizes
from cytotile.pipeline.encode import Output
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import ImageParams
from cytotile.pipeline.regions import Target, WindowInput
from cytotile.pyramid import Region

if TYPE_CHECKING:
    import numpy as np
    from shapely.geometry.base import BaseGeometry


MARGIN = 64.0  # output pixels kept around the grid: more than a stroke or a marker reaches
GRID = 1e-6  # output pixels: the precision of placed geometries


class Mode(StrEnum):
    MASK = "MASK"
    CROP = "CROP"
    DRAWING = "DRAWING"


@dataclass(frozen=True)
class Style:
    mode: Mode
    background_transparency: int = 100  # CROP: 100 is an alpha mask, 0 an opaque window
    point_cross: str = "CROSS"  # DRAWING: CROSS | CROSSHAIR | CIRCLE
    point_envelope: float = 100.0  # a point's envelope side (level-0 pixels)


@dataclass(frozen=True)
class Framing:
    """How the annotations' envelope becomes the input region."""

    context_factor: float = 1.0
    try_square: bool = False


def envelope_window(
    view: ImageView, annotations: list[Annotation], style: Style, framing: Framing
) -> WindowInput:
    """The annotations' envelope as a window of level 0 (``annotation/*`` routes)."""
    base = view.pyramid.base
    env = envelope(
        annotations, base.width, base.height, context_factor=framing.context_factor,
        try_square=framing.try_square, point_envelope=style.point_envelope,
    )  # fmt: skip
    left, top = max(0, math.floor(env.left)), max(0, math.floor(env.top))
    right, bottom = min(base.width, math.ceil(env.right)), min(base.height, math.ceil(env.bottom))
    return WindowInput(Region(left, top, max(1, right - left), max(1, bottom - top)), tier=0)


def window(
    view: ImageView,
    win: WindowInput,
    target: Target,
    params: ImageParams,
    opts: outputs.Options,
    annotations: list[Annotation],
    style: Style,
) -> Output:
    """A window with annotations: sized by the pipeline's plan (size rule, memory budget)."""
    plan = outputs.plan_window(view, win, target, params, opts)
    return render(view, win, plan, annotations, style, params, opts)


def render(
    view: ImageView,
    win: WindowInput,
    plan: outputs.Plan,
    annotations: list[Annotation],
    style: Style,
    params: ImageParams,
    opts: outputs.Options,
) -> Output:
    import numpy as np
    import shapely

    pyramid = view.pyramid
    ref, region = sizes.window_region(pyramid, win)
    width, height = plan.width, plan.height
    sx = ref.width / pyramid.base.width * width / region.width
    sy = ref.height / pyramid.base.height * height / region.height
    offset = (region.left * width / region.width, region.top * height / region.height)
    scale = (sx, sy)

    def placed(geometry: BaseGeometry) -> BaseGeometry:
        """On the output grid, cut a little outside it (strokes and markers stay whole)."""
        moved = shapely.transform(geometry, lambda xy: xy * scale - offset)
        cut = shapely.clip_by_rect(moved, -MARGIN, -MARGIN, width + MARGIN, height + MARGIN)
        # on a 1e-6 pixel grid: no degenerate sub-grid segments left for the buffers. A
        # robustness failure of GEOS, or a floating-point error of its grid maths on extreme
        # coordinates (numpy's errstate is per thread): keep the geometry as it is
        try:
            with np.errstate(all="raise"):
                return shapely.set_precision(cut, GRID)
        except (shapely.errors.GEOSException, FloatingPointError):
            return cut

    shapes = [placed(a.geometry) for a in annotations]
    if style.mode is Mode.MASK:
        pixels = mask_pixels(annotations, shapes, width, height)
        data = encode.encode(pixels, opts.fmt, opts.quality)
        return Output(data, opts.fmt.media_type, headers=plan.headers)
    pixels = image_pixels(view, params, plan, plan.bits)
    alpha = None
    if style.mode is Mode.CROP:
        alpha = crop_alpha(shapes, width, height, style.background_transparency, pixels.dtype)
    else:
        pixels = draw(pixels, annotations, shapes, style.point_cross)
    return Output(encode_alpha(pixels, alpha, opts), opts.fmt.media_type, headers=plan.headers)


def image_pixels(view: ImageView, params: ImageParams, plan: outputs.Plan, bits: int) -> np.ndarray:
    """The rendered pixels of the plan's source region at its size: what a window encodes."""
    from cytotile.pipeline import process, render

    size = (plan.width, plan.height)
    manip = params.manipulation
    sel = render.select(view, params.planes)
    stack = render.read_stack(view, sel, plan.tier.level, plan.region)
    if render.is_identity(view, sel, manip, bits):
        return process.convert_colorspace(encode.resize(stack, *size), manip.colorspace)
    channels = render.channel_renders(view, sel, manip, stack)
    return process.render(
        encode.resize(stack, *size), channels, log=manip.log, filter_id=manip.filter,
        colorspace=manip.colorspace, bits=bits,
    )  # fmt: skip
