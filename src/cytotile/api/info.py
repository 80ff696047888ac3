"""Server resources: ``/ping``, ``/info``, ``/formats``, ``/filters``, ``/colormaps``."""

from __future__ import annotations

import logging
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile import __version__
from cytotile.api.http import JSON, image_response, negotiate
from cytotile.api.openapi import Op, Param
from cytotile.api.routing import context, route
from cytotile.errors import NotFound
from cytotile.pipeline import colormaps, filters
from cytotile.pipeline.args import Args
from cytotile.pipeline.encode import Output
from cytotile.pipeline.params import Safety
from cytotile.settings import ServerSettings

log = logging.getLogger("cytotile.api")

#: the PIMS API specification version these routes follow
API_VERSION = "0.1.0"


def collection(items: list[Any]) -> dict[str, Any]:
    return {"size": len(items), "items": items}


def _formats() -> list[dict[str, Any]]:
    try:
        from cytotile.formats import describe_formats
    except ImportError:
        return []
    try:
        return list(describe_formats())
    except Exception:  # a broken format module must not take /formats down
        log.exception("cannot describe formats")
        return []


def _one(items: list[dict[str, Any]], wanted: str, what: str) -> dict[str, Any]:
    for item in items:
        if str(item.get("id", "")).upper() == wanted.upper():
            return item
    raise NotFound(f"no {what} {wanted!r}")


def readable_settings(settings: ServerSettings) -> dict[str, Any]:
    """PIMS's ``settings`` block: what of the configuration a client needs to shape its requests.
    Storage locations, URLs and credentials are never exposed (docs/pims-parity.md)."""
    return {
        "output_size_limit": math.isqrt(settings.max_output_pixels),
        "max_output_pixels": settings.max_output_pixels,
        "default_image_size_safety_mode": Safety.SAFE_REJECT.value,
        "default_annotation_origin": "LEFT_TOP",
        "cache_enabled": settings.cache_max_age > 0,
        "cache_ttl_thumb": settings.cache_max_age,
        "cache_ttl_resized": settings.cache_max_age,
        "cache_ttl_tile": settings.cache_max_age,
        "cache_ttl_window": settings.cache_max_age,
        "output_jpeg_quality": settings.output_jpeg_quality,
    }


def ping(request: Request, args: Args) -> Response:
    return JSON({"ping": "pong"}, headers={"Cache-Control": "no-store"})


def server_info(request: Request, args: Args) -> Response:
    return JSON({
        "name": "cytotile",
        "version": __version__,
        "api_version": API_VERSION,
        "settings": readable_settings(context(request).settings),
    })  # fmt: skip


def list_formats(request: Request, args: Args) -> Response:
    """PIMS lists formats by id; ``order`` keeps cytotile's detection order."""
    return JSON(collection(sorted(_formats(), key=lambda f: str(f.get("id")))))


def show_format(request: Request, args: Args) -> Response:
    return JSON(_one(_formats(), request.path_params["id"], "format"))


def list_filters(request: Request, args: Args) -> Response:
    return JSON(collection(filters.describe()))


def show_filter(request: Request, args: Args) -> Response:
    wanted = request.path_params["id"]
    return JSON(_one(filters.describe(), filters.canonical(wanted) or wanted, "filter"))


def list_colormaps(request: Request, args: Args) -> Response:
    with_inverted = args.get_bool("with_inverted") or False
    return JSON(collection(colormaps.describe(with_inverted)))


def show_colormap(request: Request, args: Args) -> Response:
    found = colormaps.find(request.path_params["id"])
    if found is None:
        raise NotFound(f"no colormap {request.path_params['id']!r}")
    return JSON(found)


def colormap_representation(request: Request, args: Args) -> Response:
    """An image of a named colormap (PIMS: width in 11..512, default 100; height in 1..512,
    default 10), left to right from the lowest intensity."""
    import numpy as np

    from cytotile.pipeline import encode

    found = colormaps.find(request.path_params["id"])
    if found is None:
        raise NotFound(f"no colormap {request.path_params['id']!r}")
    fmt = negotiate(request.path_params.get("ext"), request.headers.get("accept"))
    width = args.get_int("width", 11, 512) or 100
    height = args.get_int("height", 1, 512) or 10
    table = colormaps.lut(str(found["id"]))
    at = np.linspace(0, 255, width)
    row = np.stack([np.interp(at, np.arange(256), table[:, k]) for k in range(3)], axis=1)
    pixels = np.rint(np.repeat(row[None], height, axis=0) * 255).astype(np.uint8)
    return image_response(Output(encode.encode(pixels, fmt, 95), fmt.media_type))


SERVER = ["server"]
ID = {"id": {"type": "string"}}
PING_DOC = Op(
    "Liveness",
    '`{"ping": "pong"}` (PIMS\'s), never cached: the server answers.',
    tags=SERVER,
)
INFO_DOC = Op(
    "Server information and settings",
    "`version`, `api_version` (PIMS's API specification followed) and `settings`: what of the "
    "configuration a client needs to shape its requests (output size limit, size safety mode, "
    "cache lifetimes); never storage locations (docs/pims-parity.md).",
    tags=SERVER,
)
COLORMAPS_DOC = Op(
    "Colormaps",
    "PIMS's 82 named colormaps; `colormaps=` of image routes also takes their `!` inversions, "
    "CSS colour names, `#rgb` and `#rrggbb`.",
    tags=SERVER,
    query=(Param("with_inverted", {"type": "boolean", "default": False}, "also list `!NAME`"),),
)
REPRESENTATION_DOC = Op(
    "An image of a colormap",
    "Left to right from the lowest intensity (PIMS's bounds and defaults).",
    tags=SERVER,
    returns="image",
    path_schemas=ID,
    query=(
        Param("width", {"type": "integer", "minimum": 11, "maximum": 512, "default": 100}),
        Param("height", {"type": "integer", "minimum": 1, "maximum": 512, "default": 10}),
    ),
)


def routes() -> list[BaseRoute]:
    def one(what: str) -> Op:
        return Op(f"One {what} (case-insensitive id)", tags=SERVER, path_schemas=ID)

    return [
        route("/ping", ping, doc=PING_DOC),
        route("/info", server_info, doc=INFO_DOC),
        route("/formats", list_formats, doc=Op("Formats, by id", tags=SERVER)),
        route("/formats/{id}", show_format, doc=one("format")),
        route("/filters", list_filters, doc=Op("Filters, with their aliases", tags=SERVER)),
        route("/filters/{id}", show_filter, doc=one("filter or alias")),
        route("/colormaps", list_colormaps, doc=COLORMAPS_DOC),
        route(
            "/colormaps/{id}/representation{ext}", colormap_representation, doc=REPRESENTATION_DOC
        ),
        route("/colormaps/{id}", show_colormap, doc=one("colormap, `!` for its inversion")),
    ]
