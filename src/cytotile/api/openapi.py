"""cytotile's OpenAPI 3.1 description, built from the routes themselves: ``GET /openapi.json``.

A route's description travels with the route, so that the document is always in step with
what the app serves: pass ``doc=Op(...)`` to :func:`cytotile.api.routing.route`, or call
``describe(route, Op(...))`` on any other Starlette route, in the module that defines it
(docs/openapi.md). Patterns become OpenAPI paths: ``{path}`` (an upload path, slashes
included) is one parameter; a trailing ``{ext}`` gives two paths, without an extension (the
``Accept`` header decides) and with ``.{format}``. HEAD is implied by GET and not listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

OPENAPI_VERSION = "3.1.0"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ERROR = {"$ref": "#/components/schemas/Error"}
#: schemas of path placeholders, by name (a route may override them in its Op)
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "path": {
        "type": "string",
        "description": "an upload's path: upload-<id>/<original name>, or upload-<id>",
    },
    "tier": {"type": "string", "enum": ["zoom", "level"]},
    "format": {"type": "string", "enum": ["jpg", "jpeg", "png", "webp"]},
}
INTEGER = {"type": "integer", "minimum": 0}


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str = ""
    where: str = "query"  # or "header"


@dataclass(frozen=True)
class Op:
    """One route's description: the same for each of its methods, except that POST takes
    its parameters as a JSON object body (``query`` then documents the body's members)."""

    summary: str
    description: str = ""
    tags: Sequence[str] = ()
    query: Sequence[Param] = ()
    #: the answer's media types: "image" (JPEG, PNG, WebP), "json", "html", or a media type
    returns: str = "json"
    statuses: dict[int, str] = field(default_factory=dict)  # other answers than 200 and errors
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # the body's schema, when not made from `query`
    body_type: str = "application/json"


def describe(route: BaseRoute, op: Op) -> BaseRoute:
    """Attach ``op`` to ``route`` (returned, to use inline in a ``routes()`` list)."""
    route.openapi = op  # type: ignore[attr-defined]
    return route


def description_of(route: BaseRoute) -> Op | None:
    """The route's own description, else the one of its pattern in ``openapi_ops.KNOWN``."""
    from cytotile.api.openapi_ops import KNOWN

    op = getattr(route, "openapi", None)
    if isinstance(op, Op):
        return op
    return KNOWN.get(getattr(route, "path", ""))


def openapi_paths(pattern: str) -> list[str]:
    """The OpenAPI paths of a route pattern (``{ext}``: without, and with ``.{format}``)."""
    if pattern.endswith("{ext}"):
        stem = pattern[: -len("{ext}")]
        return [stem, stem + ".{format}"]
    return [pattern]


def _content(returns: str) -> dict[str, Any]:
    if returns == "image":
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {t: binary for t in ("image/jpeg", "image/png", "image/webp")}
    if returns == "json":
        return {"application/json": {"schema": {}}}
    if returns == "html":
        return {"text/html": {"schema": {"type": "string"}}}
    return {returns: {"schema": {"type": "string", "format": "binary"}}}


def _operation(op: Op, method: str, path: str, operation_id: str) -> dict[str, Any]:
    names = PLACEHOLDER.findall(path)
    schemas = {**PATH_SCHEMAS, **op.path_schemas}
    parameters: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": schemas.get(n, INTEGER)}
        for n in names
    ]
    body_members = [p for p in op.query if p.where == "query"]
    parameters += [
        {"name": p.name, "in": p.where, "schema": p.schema, "description": p.description}
        for p in op.query
        if method == "get" or p.where == "header"
    ]
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": parameters,
        "responses": {
            "200": {"description": "OK", "content": _content(op.returns)},
            **{str(s): {"description": d} for s, d in op.statuses.items()},
            "4XX": {
                "description": "A bad request, with its reason",
                "content": {"application/json": {"schema": ERROR}},
            },
        },
    }
    if op.description:
        operation["description"] = op.description
    if method == "post" and (op.body is not None or body_members):
        schema = op.body or {
            "type": "object",
            "properties": {p.name: p.schema for p in body_members},
        }
        content = {op.body_type: {"schema": schema}}
        operation["requestBody"] = {"required": False, "content": content}
    return operation


def document(routes: Iterable[BaseRoute], title: str = "cytotile", version: str = "") -> dict:
    """The OpenAPI document of every described route (undescribed ones are left out: the
    test suite fails on them)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op = description_of(route)
        if op is None or not isinstance(route, Route):
            continue
        methods = sorted(m.lower() for m in (route.methods or ()) if m != "HEAD")
        for k, path in enumerate(openapi_paths(route.path)):
            for method in methods:
                operation_id = f"{route.name}_{method}_{len(paths)}_{k}"
                paths.setdefault(path, {})[method] = _operation(op, method, path, operation_id)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version or _version(),
            "description": "Cytomine PIMS's HTTP API (reference: PIMS's own OpenAPI), served "
            "from normalized pyramids; plus IIIF, DeepZoom and uploads.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["title", "details"],
                    "properties": {"title": {"type": "string"}, "details": {"type": "string"}},
                }
            }
        },
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cytotile")
    except PackageNotFoundError:
        return "0"


async def openapi_json(request: Request) -> Response:
    cached = getattr(request.app.state, "openapi", None)
    if cached is None:
        cached = request.app.state.openapi = document(request.app.routes)
    return JSONResponse(cached, headers={"Cache-Control": "no-cache"})


def routes() -> list[BaseRoute]:
    return [
        describe(
            Route("/openapi.json", openapi_json, methods=["GET"], name="openapi"),
            Op("This OpenAPI description", tags=["server"]),
        )
    ]
