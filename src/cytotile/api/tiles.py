"""Normalized tiles and tiles, by zoom or level, by index or coordinates; GET and POST.

PIMS ``/tile`` uses the file's own tiling: the serving pyramid's is the normalized one, so both
resources give the same tiles. ``X-Cytotile-Passthrough`` says whether the stored JPEG bytes
were sent untouched.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.http import conditional, image_response, make_etag, negotiate
from cytotile.api.routing import context, route
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args, to_int
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import TileRef, parse_image_params, parse_tile_ref


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


def _tile(request: Request, args: Args, resource: str) -> Response:
    ctx = context(request)
    fmt = negotiate(request.path_params.get("ext"), request.headers.get("accept"))
    ref = _path_ref(request) or parse_tile_ref(args)
    params = parse_image_params(args)
    view = ImageView.open(ctx.storage, request.path_params["path"])
    pyramid = view.pyramid
    tier = pyramid.at_zoom(ref.tier) if ref.kind == "zoom" else pyramid.at_level(ref.tier)
    if ref.ti is not None:
        tx, ty = tier.ti_to_txty(ref.ti)
    else:
        assert ref.tx is not None and ref.ty is not None
        tx, ty = ref.tx, ref.ty
        tier.check_txty(tx, ty)
    opts = outputs.Options(fmt, ctx.settings.jpeg_quality)
    etag = make_etag(resource, view.digest, tier.level, tx, ty, params, opts)

    def build() -> Response:
        return image_response(outputs.normalized_tile(view, tier, tx, ty, params, opts), tile=True)

    return conditional(request, etag, ctx.settings.cache_max_age, build)


def normalized_tile(request: Request, args: Args) -> Response:
    return _tile(request, args, "normalized-tile")


def tile(request: Request, args: Args) -> Response:
    return _tile(request, args, "tile")


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for resource, handler in (("normalized-tile", normalized_tile), ("tile", tile)):
        base = f"/image/{{path}}/{resource}"
        out += [
            route(base + "/{tier}/{n}/ti/{ti}{ext}", handler, ("GET", "POST")),
            route(base + "/{tier}/{n}/tx/{tx}/ty/{ty}{ext}", handler, ("GET", "POST")),
            route(base + "{ext}", handler, ("POST",)),
        ]
    return out
