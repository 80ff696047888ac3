"""uvicorn's h11 protocol with a deadline on request heads (``cytotile serve`` only).

uvicorn times out idle keep-alive connections, but not a connection that never sends a
complete request head: one that sends nothing, or a byte now and then (a slowloris), holds a
connection forever. Here the head of every request must be complete ``head_timeout_s`` after
the connection opened or the previous answer ended; else the connection is closed (one info
line). A sweep once a second checks the connections waiting for a head: a request costs one
clock read, no timer. Request bodies have their own deadline in the app (``api/timeouts.py``).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("cytotile.api")
SWEEP_S = 1.0


def protocol_class(head_timeout_s: float) -> type[H11Protocol]:
    waiting: weakref.WeakSet[HeadDeadlineProtocol] = weakref.WeakSet()
    sweeping: set[asyncio.AbstractEventLoop] = set()

    def sweep(loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for protocol in list(waiting):
            protocol.expire_if_late(now)
        loop.call_later(SWEEP_S, sweep, loop)

    class HeadDeadlineProtocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.head_since: float | None = None  # loop time since which a head is awaited

        def expire_if_late(self, now: float) -> None:
            since = self.head_since
            if since is None or now - since < head_timeout_s or self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:
                client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
                log.info("%s sent no complete request for %.0f s: closed", client, now - since)
                self.transport.close()
            self.head_since = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.head_since = self.loop.time()
            waiting.add(self)
            if self.loop not in sweeping:
                sweeping.add(self.loop)
                self.loop.call_later(SWEEP_S, sweep, self.loop)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self.head_since = None  # a head arrived: the app has the request

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.cycle is None or self.cycle.response_complete:  # (not a pipelined one)
                self.head_since = self.loop.time()

        def connection_lost(self, exc: Exception | None) -> None:
            waiting.discard(self)
            super().connection_lost(exc)

    return HeadDeadlineProtocol
