"""DeepZoom: ``/dzi/{path}.dzi`` and ``/dzi/{path}_files/{level}/{col}_{row}.{jpeg|png}``.

DeepZoom level L of a W x H image has ceil(W / 2^(maxL - L)) x ceil(H / 2^(maxL - L)) pixels,
with maxL = ceil(log2(max(W, H))), cut into 256-pixel tiles with no overlap. Tier k of the
serving pyramid is ceil-halved k times, i.e. ceil(W / 2^k) wide: DeepZoom level maxL - k *is*
tier k, tile for tile, and its JPEG tiles are passed through. The levels smaller than the
smallest tier (one tile each) are rendered from it. Plane parameters (``channels``,
``z_slices``, ``timepoints``...) may be added as a query, as on the PIMS tile routes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.http import conditional, image_response, make_etag
from cytotile.api.iiif import docs
from cytotile.api.routing import Later, context, route
from cytotile.errors import BadParameter, TierOutOfRange
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args, to_int
from cytotile.pipeline.encode import Format
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import DEFAULT_PARAMS, parse_image_params
from cytotile.pyramid import Pyramid, Region, ceil_div

TILE_FORMATS = {"jpeg": Format.JPEG, "jpg": Format.JPEG, "png": Format.PNG}
XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" TileSize="{tile}" Overlap="0" '
    'Format="jpeg"><Size Width="{width}" Height="{height}"/></Image>\n'
)


def max_level(width: int, height: int) -> int:
    """ceil(log2(max side)), exactly (integers only)."""
    return (max(width, height) - 1).bit_length()


def level_size(width: int, height: int, level: int) -> tuple[int, int]:
    k = max_level(width, height) - level
    return ceil_div(width, 1 << k), ceil_div(height, 1 << k)


def descriptor(request: Request, args: Args) -> Response:
    ctx = context(request)
    view = ImageView.open(ctx.storage, request.path_params["path"])
    base = view.pyramid.base
    etag = make_etag("dzi", view.digest)

    def build() -> Response:
        text = XML.format(tile=base.tile_width, width=base.width, height=base.height)
        return Response(text, media_type="application/xml")

    return conditional(request, etag, ctx.settings.cache_max_age, build)


def _tile_region(pyramid: Pyramid, level: int, col: int, row: int) -> tuple[int, Region]:
    """(k, the tile's pixels in its level): level = maxL - k."""
    base = pyramid.base
    top = max_level(base.width, base.height)
    if not 0 <= level <= top:
        raise TierOutOfRange(f"DeepZoom level {level} is outside 0..{top}")
    width, height = level_size(base.width, base.height, level)
    size = base.tile_width
    if not (0 <= col < ceil_div(width, size) and 0 <= row < ceil_div(height, size)):
        raise BadParameter(f"tile {col}_{row} is outside level {level} ({width}x{height})")
    left, tp = col * size, row * size
    return top - level, Region(left, tp, min(size, width - left), min(size, height - tp))


def tile_etag(digest: str, level: int, col: int, row: int, *rest: object) -> str:
    """The ETag of a DeepZoom tile answer (the fast path's too: ``api/fastpath_urls.py``)."""
    return make_etag("dzi-tile", digest, level, col, row, *rest)


def tile(request: Request, args: Args) -> Response | Later:
    ctx = context(request)
    p = request.path_params
    fmt = TILE_FORMATS.get(p["fmt"].lower())
    if fmt is None:
        raise BadParameter(f"format: {p['fmt']!r} is not jpeg or png")
    level, col, row = to_int("level", p["level"]), to_int("col", p["col"]), to_int("row", p["row"])
    params = parse_image_params(args)
    view = ImageView.open(ctx.storage, p["path"])
    pyramid = view.pyramid
    k, region = _tile_region(pyramid, level, col, row)
    opts = outputs.Options(fmt, ctx.settings.output_jpeg_quality)
    key = "default" if params == DEFAULT_PARAMS else params
    etag = tile_etag(view.digest, level, col, row, key, fmt.value, opts.quality)
    max_age = ctx.settings.cache_max_age
    if k <= pyramid.max_level:
        tier = pyramid.at_level(k)
        plane = outputs.passthrough_plane(view, tier, params, opts)
        if plane is not None:

            def stored() -> Response:
                return image_response(
                    outputs.passthrough_tile(view, tier, col, row, plane), tile=True
                )

            return conditional(request, etag, max_age, stored)

    if k <= pyramid.max_level:  # a tier, but not its stored bytes (png, plane parameters...)
        plan = outputs.Plan(pyramid.at_level(k), region, region.width, region.height, 8, {})
    else:  # below the smallest tier: one tile, the whole smallest tier scaled down
        smallest = pyramid.tiers[-1]
        source = Region(0, 0, smallest.width, smallest.height)
        plan = outputs.Plan(smallest, source, region.width, region.height, 8, {})

    def build() -> Response:
        return image_response(outputs.make(view, plan, params, opts), tile=True)

    return Later(lambda: conditional(request, etag, max_age, build))


def routes() -> list[BaseRoute]:
    return [
        route("/dzi/{path}_files/{level}/{col}_{row}.{fmt}", tile, inline=True, doc=docs.DZI_TILE),
        route("/dzi/{path}.dzi", descriptor, inline=True, doc=docs.DZI),
    ]
