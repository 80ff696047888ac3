"""IIIF routes: ``/iiif/{3|2}/{identifier}/info.json``, the image requests, the base-URI
redirect, and ``/iiif/3/{identifier}/manifest``. The identifier is an image path
(``upload-<id>/<name>``), escaped (``%2F``) or not.

An image request equal to a stored tile (its region is a tile's footprint, its size the tile's,
no rotation, default quality, jpg) is answered by passthrough, on the event loop, as the PIMS
tile routes do; any other is rendered in the thread pool.
"""

from __future__ import annotations

from dataclasses import astuple
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from cytotile.api.http import JSON, conditional, etag_matches, image_response, make_etag
from cytotile.api.iiif import docs, documents, render
from cytotile.api.iiif.base import identifier_of, iiif_route, json_ld, public_base
from cytotile.api.iiif.presentation import manifest
from cytotile.api.iiif.request import (
    MAX_SIDE,
    Limits,
    Rotation,
    parse_format,
    parse_quality,
    parse_region,
    parse_rotation,
    parse_size,
)
from cytotile.api.routing import Context, Later, context
from cytotile.api.thumbs import options
from cytotile.errors import BadParameter, NotFound
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args
from cytotile.pipeline.budget import Work, estimate, request_budget
from cytotile.pipeline.encode import Format
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import DEFAULT_PARAMS, parse_image_params
from cytotile.pyramid import Region

VERSIONS = ("2", "3")
PROFILE_LINK = {v: f'<{uri}>;rel="profile"' for v, uri in documents.PROFILE_URI.items()}


def version_of(request: Request) -> int:
    version = request.path_params["version"]
    if version not in VERSIONS:
        raise NotFound(f"IIIF Image API version {version!r} is not served; use 3 or 2")
    return int(version)


def limits(ctx: Context) -> Limits:
    """What info.json promises: the size rule, and the largest area the memory budget of one
    request holds for a typical render (:func:`budget_area`). A heavier request (many channels)
    is still refused by the budget (413)."""
    settings = ctx.settings
    area = budget_area(request_budget(settings.request_memory_mb))
    return Limits(MAX_SIDE, MAX_SIDE, min(settings.max_output_pixels, area))


@lru_cache(maxsize=8)
def budget_area(memory: int) -> int:
    """The largest output area whose render fits ``memory`` by the pipeline's own estimate, for
    an RGB 8-bit PNG read from a tier up to 4 times its area (the worst source tier)."""

    def fits(area: int) -> bool:
        work = Work(4 * area, 3, 1, area, 3, 1, Format.PNG)
        return estimate(work) <= memory

    low, high = 0, 1 << 40
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def service_id(request: Request, version: int) -> str:
    return f"{public_base(request)}/iiif/{version}/{identifier_of(request)}"


def info_json(request: Request, args: Args) -> Response:
    ctx = context(request)
    version = version_of(request)
    view = ImageView.open(ctx.storage, request.path_params["path"])
    sid = service_id(request, version)
    media_type = json_ld(request.headers.get("accept"), documents.IMAGE_CONTEXT[version])
    etag = make_etag("iiif-info", view.digest, sid, media_type, limits(ctx))

    def build() -> Response:
        document = documents.info_json(version, sid, view.pyramid, limits(ctx))
        return JSON(document, media_type=media_type, headers={"Link": PROFILE_LINK[version]})

    return conditional(request, etag, ctx.settings.cache_max_age, build)


def stored_etag(digest: str, level: int, tile_tx: int, tile_ty: int, *rest: object) -> str:
    """The ETag of an image request answered by a stored tile (the fast path's too:
    ``api/fastpath_urls.py``)."""
    return make_etag("iiif", digest, "stored", level, tile_tx, tile_ty, *rest)


def image(request: Request, args: Args) -> Response | Later:
    ctx = context(request)
    p = request.path_params
    version = version_of(request)
    rotation = parse_rotation(p["rotation"])
    quality = parse_quality(p["quality"])
    fmt = parse_format(p["format"])
    params = parse_image_params(args)
    view = ImageView.open(ctx.storage, p["path"])
    pyramid = view.pyramid
    region = parse_region(p["region"], pyramid.base.width, pyramid.base.height)
    width, height = parse_size(p["size"], region, version, limits(ctx))
    if not (quality == "default" or (quality == "color" and view.header.n_samples == 3)):
        params = render.quality_params(params, quality)
    max_age = ctx.settings.cache_max_age
    rendering = "default" if params == DEFAULT_PARAMS else params  # (its repr is not free)
    if rotation.is_identity and fmt is Format.JPEG:
        size = p["size"].lstrip("^")
        slack = (int(size.startswith(",")), int(size.endswith(",")))
        found = render.stored_tile(pyramid, region, width, height, slack)
        if found is not None:
            tier, tile_tx, tile_ty = found
            opts = outputs.Options(fmt, ctx.settings.output_jpeg_quality)
            plane = outputs.passthrough_plane(view, tier, params, opts)
            if plane is not None:  # the stored bytes: one read, on the event loop
                etag = stored_etag(view.digest, tier.level, tile_tx, tile_ty, quality, rendering)

                def stored() -> Response:
                    output = outputs.passthrough_tile(view, tier, tile_tx, tile_ty, plane)
                    output.headers["Link"] = PROFILE_LINK[version]
                    return image_response(output, tile=True)

                return conditional(request, etag, max_age, stored)
    opts = options(request, fmt)
    key = (*astuple(region), width, height, *astuple(rotation), quality, rendering, fmt.value)
    etag = make_etag("iiif", view.digest, *key, opts.quality, opts.safety.value)
    if etag_matches(request.headers.get("if-none-match"), etag):
        return conditional(request, etag, max_age, lambda: Response())  # 304
    planned = render.plan(view, params, region, (width, height), opts)
    asked = f"{quality}.{p['format']}"
    links = {"Link": _links(request, version, region, (width, height), rotation, asked)}

    def build() -> Response:
        output = render.render_image(view, params, planned, rotation, opts)
        output.headers.update(links)
        return image_response(output, tile=True)

    heavy = planned.pixels > ctx.settings.heavy_pixels
    return Later(lambda: conditional(request, etag, max_age, build), heavy)


def _links(
    request: Request,
    version: int,
    region: Region,
    size: tuple[int, int],
    rotation: Rotation,
    quality_format: str,
) -> str:
    """The canonical form of the request (IIIF section 4.7) and the compliance profile."""
    mirror = "!" if rotation.mirror else ""
    canonical = (
        f"{service_id(request, version)}/{region.left},{region.top},{region.width},"
        f"{region.height}/{size[0]},{size[1]}/{mirror}{rotation.degrees:g}/{quality_format}"
    )
    return f'<{canonical}>;rel="canonical", {PROFILE_LINK[version]}'


def base_redirect(request: Request, args: Args) -> Response:
    """The image's base URI: 303 to its ``info.json``."""
    version = version_of(request)
    path = request.path_params["path"]
    if path.count("/") > 1:
        raise BadParameter(f"{request.url.path} is not an IIIF request")
    ImageView.open(context(request).storage, path)  # 404 when there is no such image
    return RedirectResponse(f"{service_id(request, version)}/info.json", status_code=303)


def routes() -> list[BaseRoute]:
    image_pattern = "/iiif/{version}/{path}/{region}/{size}/{rotation}/{quality}.{format}"
    return [
        iiif_route(image_pattern, image, inline=True, doc=docs.IMAGE),
        iiif_route("/iiif/{version}/{path}/info.json", info_json, inline=True, doc=docs.INFO),
        iiif_route("/iiif/3/{path}/manifest", manifest, doc=docs.MANIFEST),
        iiif_route("/iiif/3/{path}/manifest.json", manifest, doc=docs.MANIFEST),
        iiif_route("/iiif/{version}/{path}", base_redirect, inline=True, doc=docs.REDIRECT),
    ]
