"""Thumbnails and resized images (GET with query, POST with a JSON body)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api import openapi_ops as ops
from cytotile.api.http import conditional, etag_matches, image_response, make_etag, negotiate
from cytotile.api.openapi import Op, Param
from cytotile.api.routing import Later, context, route
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args
from cytotile.pipeline.budget import request_budget
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import parse_image_params, parse_safety
from cytotile.pipeline.regions import parse_target

THUMB_LENGTH = 256
BUDGET_STATUSES = {
    413: "Over the memory or time budget of one request",
    429: "Other large images are being made: retry after Retry-After seconds",
}
PRECOMPUTED = Param("use_precomputed", {"type": "boolean"}, "accepted (tiers are as cheap)")
THUMB_DOC = Op(
    "A thumbnail: the whole image, 8 bits, for display (length 256 by default)",
    tags=ops.IMAGE_TAGS,
    returns="image",
    query=(*ops.SIZE, *ops.PLANES, *ops.MANIPULATION, PRECOMPUTED, ops.SAFETY),
    statuses=BUDGET_STATUSES,
)
RESIZED_DOC = Op(
    "The whole image at a size, zoom or level (16 bits when asked and the format holds it)",
    tags=ops.IMAGE_TAGS,
    returns="image",
    query=(*ops.SIZE, *ops.TIERS, *ops.PLANES, *ops.MANIPULATION, *ops.GENERAL, ops.SAFETY),
    statuses=BUDGET_STATUSES,
)


def options(request: Request, fmt: outputs.Format) -> outputs.Options:
    settings = context(request).settings
    return outputs.Options(
        fmt,
        settings.output_jpeg_quality,
        settings.max_output_pixels,
        parse_safety(request.headers.get("x-image-size-safety")),
        request_budget(settings.request_memory_mb),
        settings.request_time_s,
    )


def deferred(
    request: Request, etag: str, plan: outputs.Plan, build: Callable[[], Response]
) -> Response | Later:
    """A 304 at once; else the output's work, flagged heavy when it is large (it then waits
    for a slot of the app's semaphore of heavy requests, tiles never do)."""
    settings = context(request).settings
    etag = make_etag(etag, plan.width, plan.height, plan.bits)  # the size the budget allowed
    if etag_matches(request.headers.get("if-none-match"), etag):
        return conditional(request, etag, settings.cache_max_age, build)
    heavy = plan.pixels > settings.heavy_pixels

    def work() -> Response:
        return conditional(request, etag, settings.cache_max_age, build)

    return Later(work, heavy, plan.seconds)


def _whole_image(request: Request, args: Args, resource: str) -> Response | Later:
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
    planner = outputs.plan_resized if general else outputs.plan_thumb
    plan = planner(view, target, params, opts)  # the size decided (or refused) before any work

    def build() -> Response:
        return image_response(outputs.make(view, plan, params, opts))

    return deferred(request, etag, plan, build)


def thumb(request: Request, args: Args) -> Response | Later:
    return _whole_image(request, args, "thumb")


def resized(request: Request, args: Args) -> Response | Later:
    return _whole_image(request, args, "resized")


def routes() -> list[BaseRoute]:
    return [
        route("/image/{path}/thumb{ext}", thumb, ("GET", "POST"), doc=THUMB_DOC),
        route("/image/{path}/resized{ext}", resized, ("GET", "POST"), doc=RESIZED_DOC),
    ]
