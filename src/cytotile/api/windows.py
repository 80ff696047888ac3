"""Windows: a region (or a tile) of a reference tier, optionally rescaled (POST, JSON body)."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api import openapi_ops as ops
from cytotile.api.annotations import WINDOW_PARAMS, window_annotations
from cytotile.api.http import image_response, make_etag, negotiate
from cytotile.api.openapi import Op
from cytotile.api.routing import Later, context, route
from cytotile.api.thumbs import BUDGET_STATUSES, deferred, options
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import parse_image_params
from cytotile.pipeline.regions import parse_target, parse_window


def window(request: Request, args: Args) -> Response | Later:
    ctx = context(request)
    fmt = negotiate(request.path_params.get("ext"), request.headers.get("accept"))
    win = parse_window(args)
    target = parse_target(args, tiers=True)
    params = parse_image_params(args, general=True)
    if params.manipulation.bits is None and not args.has("bits"):
        # PIMS's window answers 8 bits unless told (recorded: 8 even for bits=16; here an
        # explicit bits=16 or AUTO is honoured), so clients reading 8-bit windows keep working
        params = replace(params, manipulation=replace(params.manipulation, bits=8))
    opts = options(request, fmt)
    view = ImageView.open(ctx.storage, request.path_params["path"])
    drawn = window_annotations(request, args, view)  # None without `annotations`
    drawing = (drawn.key,) if drawn else ()  # a plain window keeps its ETag
    etag = make_etag("window", view.digest, win, target, params, opts, *drawing)

    plan = outputs.plan_window(view, win, target, params, opts)  # sized (or refused) first

    def build() -> Response:
        if drawn is not None:
            return image_response(drawn.render(view, win, target, params, opts))
        return image_response(outputs.make(view, plan, params, opts))

    return deferred(request, etag, plan, build)


def routes() -> list[BaseRoute]:
    return [route("/image/{path}/window{ext}", window, ("POST",), doc=WINDOW_DOC)]


WINDOW_DOC = Op(
    "A region (or a tile) of a reference tier, at its size or rescaled",
    tags=ops.IMAGE_TAGS,
    returns="image",
    query=(*ops.WINDOW, *ops.SIZE, *ops.TIERS, *ops.PLANES, *ops.MANIPULATION, *ops.GENERAL,
           *WINDOW_PARAMS, ops.SAFETY),
    statuses=BUDGET_STATUSES,
)  # fmt: skip
