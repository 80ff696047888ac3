"""What every IIIF and DeepZoom route shares: public URLs, identifiers, CORS, and IIIF's error
statuses (400 for any bad parameter, 404 for anything that is not an image, 501 for what is
valid but not implemented), as JSON ``{title, details}`` like the rest of the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cytotile.api.errors import error_response, status_of
from cytotile.api.iiif.request import Unsupported
from cytotile.api.openapi import Op
from cytotile.api.routing import Handler, Later, PatternRoute, context, route
from cytotile.errors import BadParameter, BadPath, CytotileError, NotAcceptable
from cytotile.pipeline.args import Args
from cytotile.pipeline.image import check_image_path

CORS = {"Access-Control-Allow-Origin": "*"}
ALLOW_ORIGIN = b"access-control-allow-origin"
PUBLIC_HOST = "x-cytotile-public-host"
HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?$")
#: IIIF's statuses where they differ from the PIMS routes' (api/errors.py)
IIIF_STATUS: dict[type[CytotileError], int] = {
    BadParameter: 400,  # PIMS: 422
    NotAcceptable: 400,  # PIMS: 406
    BadPath: 404,  # an identifier that names no image
    Unsupported: 501,
}


def iiif_status(exc: CytotileError) -> int:
    for cls in type(exc).__mro__:
        if cls in IIIF_STATUS:
            return IIIF_STATUS[cls]
    return status_of(exc)


def public_base(request: Request) -> str:
    """The URL the client used up to the app's root. Behind CloudFront, the viewer's host is in
    ``X-Cytotile-Public-Host`` (template.yaml's PublicHostFunction; API Gateway must get its
    own Host). Behind API Gateway alone, the stage (or a custom domain's base path) is in the
    event's ``requestContext.path`` but not in the path the app sees."""
    public_host = request.headers.get(PUBLIC_HOST)
    if public_host and HOST.match(public_host):
        return f"https://{public_host}"
    scheme, sep, rest = str(request.base_url).rstrip("/").partition("://")
    base = scheme.lower() + sep + rest  # a proxy's X-Forwarded-Proto may be "HTTP"
    event = request.scope.get("aws.event")
    if isinstance(event, dict):
        outer = str((event.get("requestContext") or {}).get("path") or "")
        inner = str(event.get("path") or "")
        if inner and outer.endswith(inner) and len(outer) > len(inner):
            base += outer[: -len(inner)].rstrip("/")
    return base


def identifier_of(request: Request) -> str:
    """The image path of the route, with its slashes escaped as IIIF identifiers need."""
    return quote(request.path_params["path"], safe="")


def with_cors(response: Response) -> Response:
    """``Access-Control-Allow-Origin: *`` (appended raw: the headers are fresh, and the app's
    CORS middleware, when it answers an Origin, replaces rather than repeats it)."""
    if not any(name == ALLOW_ORIGIN for name, _ in response.raw_headers):
        response.raw_headers.append((ALLOW_ORIGIN, b"*"))
    return response


def iiif_handler(handler: Handler) -> Handler:
    """``handler`` answering errors the IIIF way (statuses above, CORS on every answer)."""

    def run(request: Request, args: Args) -> Response | Later:
        try:
            check_image_path(context(request).storage, request.path_params["path"])
            result = handler(request, args)
        except CytotileError as exc:
            return _error(exc)
        if isinstance(result, Later):
            return Later(_guarded(result.work), result.heavy)
        return with_cors(result)

    run.__name__ = handler.__name__
    return run


def iiif_route(
    pattern: str, handler: Handler, inline: bool = False, doc: Op | None = None
) -> PatternRoute:
    """A route of ``handler`` wrapped by :func:`iiif_handler`, which checks the image path
    itself: an identifier that names no image is a IIIF 404 with CORS too."""
    return route(pattern, iiif_handler(handler), inline=inline, doc=doc, image_path=False)


def _guarded(work: Callable[[], Response]) -> Callable[[], Response]:
    def run() -> Response:
        try:
            return with_cors(work())
        except CytotileError as exc:
            return _error(exc)

    return run


def _error(exc: CytotileError) -> Response:
    return error_response(iiif_status(exc), exc.title, exc.details, **CORS)


def json_ld(accept: str | None, context: str) -> str:
    """``application/ld+json`` with the context as profile when the client asks for it, else
    ``application/json`` (IIIF Image API 3, section 7.1)."""
    if accept and "application/ld+json" in accept:
        return f'application/ld+json;profile="{context}"'
    return "application/json"
