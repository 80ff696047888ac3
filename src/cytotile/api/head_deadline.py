"""uvicorn's HTTP protocol with a deadline on request heads (``cytotile serve`` only).

uvicorn times out idle keep-alive connections, but not a connection that never sends a
complete request head: one that sends nothing, or a byte now and then (a slowloris), holds a
connection forever. Here the head of every request must be complete ``head_timeout_s`` after
the connection opened or the previous answer ended; else the connection is closed (one info
line). A sweep once a second checks the connections waiting for a head: a request costs one
clock read, no timer. Request bodies have their own deadline in the app (``api/timeouts.py``).

The protocol is uvicorn's httptools one when httptools is installed (the ``server`` extra: the
faster parser), else its h11 one; the deadline is one mixin over either. h11 refuses a head
larger than 16 KiB (uvicorn's ``h11_max_incomplete_event_size``); httptools has no such limit,
so the mixin adds it there: a head whose bytes go past it is answered 400 and closed. Counted
over the reads that fall wholly while a head is awaited (the read where one starts is not: the
bound is this plus one read, with no false alarm on the end of a body answered early). A
request costs the mixin two calls (``data_received``, ``on_response_complete``).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, ClassVar

log = logging.getLogger("cytotile.api")
SWEEP_S = 1.0
MAX_HEAD_BYTES = 16 * 1024  # as uvicorn's h11 default


class HeadDeadline(asyncio.Protocol):
    """Mixed in before a uvicorn HTTP protocol (its ``cycle``, ``transport``, ``loop``)."""

    head_timeout_s: ClassVar[float]
    max_head_bytes: ClassVar[int | None]  # None: the parser has its own limit (h11)
    waiting: ClassVar[weakref.WeakSet[HeadDeadline]]  # connections of this server
    sweeping: ClassVar[set[asyncio.AbstractEventLoop]]
    cycle: Any
    client: tuple[str, int] | None
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    head_since: float | None = None  # loop time since which a head is awaited
    head_bytes = 0  # received while awaiting it

    @classmethod
    def sweep(cls, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for protocol in list(cls.waiting):
            protocol.expire_if_late(now)
        loop.call_later(SWEEP_S, cls.sweep, loop)

    def expire_if_late(self, now: float) -> None:
        since = self.head_since
        if since is None or now - since < self.head_timeout_s or self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            log.info("%s sent no complete request for %.0f s: closed", self.who(), now - since)
            self.transport.close()
        self.head_since = None

    def who(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.head_since = self.loop.time()
        self.waiting.add(self)
        if self.loop not in self.sweeping:
            self.sweeping.add(self.loop)
            self.loop.call_later(SWEEP_S, self.sweep, self.loop)

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        awaiting = cycle is None or (cycle.response_complete and not cycle.more_body)
        super().data_received(data)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            self.head_since = None  # a head arrived: the app has the request
        elif awaiting and self.max_head_bytes is not None:
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head_bytes and not self.transport.is_closing():
                log.info("%s sent a request head over %d bytes: 400", self.who(), MAX_HEAD_BYTES)
                self.send_400_response("Request head too large.")  # type: ignore[attr-defined]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self.cycle is None or self.cycle.response_complete:  # (not a pipelined one)
            self.head_since, self.head_bytes = self.loop.time(), 0

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting.discard(self)
        super().connection_lost(exc)


def stack(http: str = "auto") -> str:
    """The HTTP parser ``auto`` picks, as uvicorn's: ``httptools`` when it imports, else
    ``h11``."""
    if http != "auto":
        return http
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def protocol_class(head_timeout_s: float, http: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's ``http`` protocol (``auto``, ``httptools`` or ``h11``) with the deadline."""
    base: type
    if stack(http) == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base, max_head_bytes = HttpToolsProtocol, MAX_HEAD_BYTES
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base, max_head_bytes = H11Protocol, None
    attrs: dict[str, Any] = {"head_timeout_s": head_timeout_s, "max_head_bytes": max_head_bytes}
    attrs.update(waiting=weakref.WeakSet(), sweeping=set())
    return type("HeadDeadlineProtocol", (HeadDeadline, base), attrs)
