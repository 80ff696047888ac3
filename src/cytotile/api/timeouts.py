"""A deadline on reading request bodies, and quiet client disconnects.

uvicorn closes idle keep-alive connections (``--timeout-keep-alive``) but waits forever for a
body that stalls. :class:`BodyDeadline` gives every wait for the next body chunk
``body_timeout_s``: past it, the request is answered 408 (JSON, ``Connection: close``) and the
connection closed. A client that goes away while its body is read costs one info line, not a
traceback (:func:`cytotile.api.errors.CatchAll`).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cytotile.api.errors import BodyTimeout

log = logging.getLogger("cytotile.api")


class BodyDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0 or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # later receives wait for a disconnect: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.seconds)
            except TimeoutError:
                log.info(
                    "%s %s: no body bytes for %.0f s; answered 408 and closed",
                    scope.get("method"),
                    scope.get("path"),
                    self.seconds,
                )
                raise BodyTimeout(
                    f"the request body stalled for {self.seconds:.0f} s; send it at once"
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body")
            return message

        await self.app(scope, timed_receive, send)
