"""Windows: a region (or a tile) of a reference tier, optionally rescaled (POST, JSON body)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.annotations import window_annotations
from cytotile.api.http import conditional, image_response, make_etag, negotiate
from cytotile.api.routing import context, route
from cytotile.api.thumbs import options
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import parse_image_params
from cytotile.pipeline.regions import parse_target, parse_window


def window(request: Request, args: Args) -> Response:
    ctx = context(request)
    fmt = negotiate(request.path_params.get("ext"), request.headers.get("accept"))
    win = parse_window(args)
    target = parse_target(args, tiers=True)
    params = parse_image_params(args, general=True)
    opts = options(request, fmt)
    view = ImageView.open(ctx.storage, request.path_params["path"])
    drawn = window_annotations(request, args, view)  # None without `annotations`
    drawing = (drawn.key,) if drawn else ()  # a plain window keeps its ETag
    etag = make_etag("window", view.digest, win, target, params, opts, *drawing)

    def build() -> Response:
        if drawn is not None:
            return image_response(drawn.render(view, win, target, params, opts))
        return image_response(outputs.window(view, win, target, params, opts))

    return conditional(request, etag, ctx.settings.cache_max_age, build)


def routes() -> list[BaseRoute]:
    return [route("/image/{path}/window{ext}", window, ("POST",))]
