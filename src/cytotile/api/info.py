"""Server resources: ``/info``, ``/formats``, ``/filters``, ``/colormaps``."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile import __version__
from cytotile.api.http import JSON
from cytotile.api.routing import route
from cytotile.errors import NotFound
from cytotile.pipeline import colormaps, filters
from cytotile.pipeline.args import Args

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


def server_info(request: Request, args: Args) -> Response:
    return JSON({"name": "cytotile", "version": __version__, "api_version": API_VERSION})


def list_formats(request: Request, args: Args) -> Response:
    return JSON(collection(_formats()))


def show_format(request: Request, args: Args) -> Response:
    return JSON(_one(_formats(), request.path_params["id"], "format"))


def list_filters(request: Request, args: Args) -> Response:
    return JSON(collection(filters.describe()))


def show_filter(request: Request, args: Args) -> Response:
    return JSON(_one(filters.describe(), request.path_params["id"], "filter"))


def list_colormaps(request: Request, args: Args) -> Response:
    return JSON(collection(colormaps.describe()))


def show_colormap(request: Request, args: Args) -> Response:
    return JSON(_one(colormaps.describe(), request.path_params["id"], "colormap"))


def routes() -> list[BaseRoute]:
    return [
        route("/info", server_info),
        route("/formats", list_formats),
        route("/formats/{id}", show_format),
        route("/filters", list_filters),
        route("/filters/{id}", show_filter),
        route("/colormaps", list_colormaps),
        route("/colormaps/{id}", show_colormap),
    ]
