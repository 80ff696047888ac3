"""Normalized tiles and tiles, by zoom or level, by index or coordinates; GET and POST.

PIMS ``/tile`` uses the file's own tiling: the serving pyramid's is the normalized one, so both
resources give the same tiles. ``X-Cytotile-Passthrough`` says whether the stored JPEG bytes
were sent untouched.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api import openapi_ops as ops
from cytotile.api.http import conditional, etag_matches, image_response, make_etag, negotiate
from cytotile.api.openapi import Op, Param
from cytotile.api.routing import Later, context, route
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args, to_int
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import DEFAULT_PARAMS, parse_image_params
from cytotile.pipeline.regions import TileRef, parse_tile_ref


def _path_ref(request: Request) -> TileRef | None:
    p = request.path_params
    if "tier" not in p:
        return None
    kind = p["tier"]
    ti = p.get("ti")
    return TileRef(
        kind,
        to_int(kind, p["n"]),
        ti=to_int("ti", ti) if ti is not None else None,
        tx=to_int("tx", p["tx"]) if "tx" in p else None,
        ty=to_int("ty", p["ty"]) if "ty" in p else None,
    )


def _tile(request: Request, args: Args, resource: str) -> Response | Later:
    ctx = context(request)
    fmt = negotiate(request.path_params.get("ext"), request.headers.get("accept"))
    ref = _path_ref(request) or parse_tile_ref(args)
    # tiles are 8-bit unless bits (or a colorspace) is asked: the default stays the fast path
    params = parse_image_params(args, general=args.has("bits") or args.has("colorspace"))
    view = ImageView.open(ctx.storage, request.path_params["path"])
    pyramid = view.pyramid
    tier = pyramid.at_zoom(ref.tier) if ref.kind == "zoom" else pyramid.at_level(ref.tier)
    if ref.ti is not None:
        tx, ty = tier.ti_to_txty(ref.ti)
    else:
        assert ref.tx is not None and ref.ty is not None
        tx, ty = ref.tx, ref.ty
        tier.check_txty(tx, ty)
    opts = outputs.Options(fmt, ctx.settings.output_jpeg_quality)
    key = "default" if params == DEFAULT_PARAMS else params  # (repr of params is not free)
    etag = tile_etag(resource, view.digest, tier.level, tx, ty, key, fmt.value, opts.quality)
    max_age = ctx.settings.cache_max_age

    def build() -> Response:
        return image_response(outputs.normalized_tile(view, tier, tx, ty, params, opts), tile=True)

    if etag_matches(request.headers.get("if-none-match"), etag):
        return conditional(request, etag, max_age, build)  # 304
    plane = outputs.passthrough_plane(view, tier, params, opts)
    if plane is not None:  # one read: no need for a thread

        def stored() -> Response:
            return image_response(outputs.passthrough_tile(view, tier, tx, ty, plane), tile=True)

        return conditional(request, etag, max_age, stored)
    return Later(lambda: conditional(request, etag, max_age, build))


def tile_etag(resource: str, digest: str, level: int, tx: int, ty: int, *rest: object) -> str:
    """The ETag of a tile answer (the fast path's too: ``api/fastpath_urls.py``)."""
    return make_etag(resource, digest, level, tx, ty, *rest)


def normalized_tile(request: Request, args: Args) -> Response | Later:
    return _tile(request, args, "normalized-tile")


def tile(request: Request, args: Args) -> Response | Later:
    return _tile(request, args, "tile")


QUERY = (*ops.PLANES, *ops.MANIPULATION, *ops.GENERAL)


def _doc(summary: str, query: tuple[Param, ...] = QUERY) -> Op:
    passthrough = "X-Cytotile-Passthrough: 1 when the stored JPEG bytes are sent untouched."
    return Op(summary, passthrough, ops.IMAGE_TAGS, query, returns="image")


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for resource, handler in (("normalized-tile", normalized_tile), ("tile", tile)):
        base = f"/image/{{path}}/{resource}"
        doc = _doc(f"A {resource} of the normalized pyramid (256 x 256)")
        generic = _doc(
            f"A {resource}, chosen in the JSON body", (*ops.TIERS, *ops.TILE_BODY, *QUERY)
        )
        get_post = ("GET", "POST")
        out += [
            route(base + "/{tier}/{n}/ti/{ti}{ext}", handler, get_post, inline=True, doc=doc),
            route(
                base + "/{tier}/{n}/tx/{tx}/ty/{ty}{ext}", handler, get_post, inline=True, doc=doc
            ),
            route(base + "{ext}", handler, ("POST",), inline=True, doc=generic),
        ]
    return out
