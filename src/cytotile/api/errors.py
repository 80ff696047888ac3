"""Errors as JSON ``{"title": ..., "details": ...}``: one table from domain errors to statuses.

``BadPath`` answers 400: a path that is malformed or tries to leave the root is a bad request,
distinct from an image that does not exist (404). Such a path is refused before any storage
access (``safe_key``), so nothing outside the root is ever read.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cytotile import errors as E

log = logging.getLogger("cytotile.api")


class MalformedBody(E.CytotileError):
    """The request body is not the JSON (or multipart form) it should be."""

    title = "Malformed request body"


class ImportUnavailable(E.CytotileError):
    title = "Import not available"


class Unauthorized(E.CytotileError):
    """A write without the admin token (when the server has one)."""

    title = "Unauthorized"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="cytotile"'}


class BodyTooLarge(E.CytotileError):
    """A request body larger than this deployment takes (an upload through Lambda)."""

    title = "Request body too large"


class BodyTimeout(E.CytotileError):
    """The client stopped sending its request body."""

    title = "Request timeout"
    headers: ClassVar[dict[str, str]] = {"Connection": "close"}


class Busy(E.CytotileError):
    """Heavy requests already queued: this one could not be made within the time budget."""

    title = "Too many requests"

    def __init__(self, details: str, retry_after_s: int) -> None:
        super().__init__(details)
        self.headers = {"Retry-After": str(retry_after_s)}


STATUS: dict[type[E.CytotileError], int] = {
    E.ImageNotFound: 404,
    E.NotFound: 404,
    E.BadPath: 400,
    E.TierOutOfRange: 400,
    E.TileOutOfRange: 400,
    E.BadParameter: 422,
    MalformedBody: 400,
    E.NotAcceptable: 406,
    E.TooLarge: 400,
    E.StorageError: 502,
    ImportUnavailable: 501,
    Unauthorized: 401,
    BodyTimeout: 408,
    BodyTooLarge: 413,
    Busy: 429,
    E.OverBudget: 413,
    E.PyramidError: 500,
    E.CoreProblem: 400,  # PIMS's CytomineProblem
    E.CoreUnavailable: 502,
}


def status_of(exc: E.CytotileError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(status: int, title: str, details: str, **headers: str) -> JSONResponse:
    return JSONResponse({"title": title, "details": details}, status, headers=headers or None)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, E.CytotileError)
    status = status_of(exc)
    if status >= 500:
        log.error("%s %s: %s: %s", request.method, request.url.path, exc.title, exc.details)
    return error_response(status, exc.title, exc.details, **getattr(exc, "headers", {}))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    details = exc.detail if exc.status_code != 404 else f"no route for {request.url.path}"
    return error_response(exc.status_code, title, str(details), **(exc.headers or {}))


class CatchAll:
    """Unexpected exceptions become a logged 500 JSON answer, never an HTML page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            log.info("%s %s: the client went away", scope.get("method"), scope.get("path"))
        except Exception as exc:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = error_response(500, "Internal server error", _describe(exc))
            await response(scope, receive, send)


def _describe(exc: Exception) -> str:
    return f"unexpected {type(exc).__name__}; see the server log"


HANDLERS: dict[Any, Any] = {E.CytotileError: domain_error, HTTPException: http_error}
