"""Thumbnails and resized images (GET with query, POST with a JSON body)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.http import conditional, image_response, make_etag, negotiate
from cytotile.api.routing import context, route
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import parse_image_params, parse_safety
from cytotile.pipeline.regions import parse_target

THUMB_LENGTH = 256


def options(request: Request, fmt: outputs.Format) -> outputs.Options:
    settings = context(request).settings
    return outputs.Options(
        fmt,
        settings.output_jpeg_quality,
        settings.max_output_pixels,
        parse_safety(request.headers.get("x-image-size-safety")),
    )


def _whole_image(request: Request, args: Args, resource: str) -> Response:
    """``thumb`` (for display, 8 bits) and ``resized`` (general purpose: zoom/level targets,
    16 bits when asked) differ only in what they accept and which output they call."""
    ctx = context(request)
    fmt = negotiate(request.path_params.get("ext"), request.headers.get("accept"))
    general = resource == "resized"
    target = parse_target(args, tiers=general, default_length=THUMB_LENGTH)
    if not general:
        args.get_bool("use_precomputed")  # accepted; the top tiers are as cheap as a stored thumb
    params = parse_image_params(args, general=general)
    opts = options(request, fmt)
    view = ImageView.open(ctx.storage, request.path_params["path"])
    etag = make_etag(resource, view.digest, target, params, opts)
    output = outputs.resized if general else outputs.thumb

    def build() -> Response:
        return image_response(output(view, target, params, opts))

    return conditional(request, etag, ctx.settings.cache_max_age, build)


def thumb(request: Request, args: Args) -> Response:
    return _whole_image(request, args, "thumb")


def resized(request: Request, args: Args) -> Response:
    return _whole_image(request, args, "resized")


def routes() -> list[BaseRoute]:
    return [
        route("/image/{path}/thumb{ext}", thumb, ("GET", "POST")),
        route("/image/{path}/resized{ext}", resized, ("GET", "POST")),
    ]
