"""A lean ASGI route for passthrough tiles, in front of the full app (issue 8, point 4).

A warm passthrough tile costs the full app route matching over every pattern, the middleware
stack, parameter parsing, the ETag hash and header building. :class:`TileFastPath` recognises
the tile URLs of :mod:`cytotile.api.fastpath_urls` (PIMS ``normalized-tile``/``tile``,
DeepZoom, IIIF requests equal to a stored tile), under the base path too, and answers them from
a per-pyramid cache of (ETag, headers, byte range): one dict lookup, one ranged read, one raw
ASGI send. Anything else goes to the full app unchanged: a query string (plane or rendering
parameters), a path the full app has not accepted yet, another format, a tile that is not
passed through, any error (the full app answers it). The answers are the full app's, byte for
byte (tests/api/test_fastpath.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cytotile.api.fastpath_urls import Parsed, parse, resolve
from cytotile.api.http import caching_headers, etag_matches, negotiate
from cytotile.api.routing import Context
from cytotile.errors import CytotileError
from cytotile.manifest import pyramid_key, upload_id_of
from cytotile.pipeline import outputs
from cytotile.pipeline.encode import Format
from cytotile.pipeline.image import ImageView, verified_image_path
from cytotile.tiff.reader import PyramidReader, open_pyramid

#: (ETag, headers, range) of tiles already answered, over all pyramids (~1 KB each); all are
#: dropped when full (a 40000 x 30000 slide has ~24,000 tiles, tiers included)
MAX_ENTRIES = 32768
MAX_PATHS = 4096  # request paths -> pyramid keys
NEGOTIATED_MAX = 256  # (extension, Accept) pairs remembered
_NO_ORIGIN = Headers(raw=[])
_UNKNOWN = object()


@dataclass(frozen=True)
class Entry:
    etag: str
    ok_headers: list[tuple[bytes, bytes]]  # of the 200, as CORS leaves them without Origin
    not_modified: list[tuple[bytes, bytes]]  # of the 304, idem
    raw: tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]  # 200, 304 before CORS
    offset: int
    count: int
    prefix: bytes  # the tier's JPEG tables without EOI ("" for a complete stored JPEG)


class TileFastPath:
    def __init__(
        self, app: ASGIApp, context: Context, cors: dict[str, Any] | None, base_path: str
    ) -> None:
        self.app = app
        self.ctx = context
        self.cors = CORSMiddleware(app, **cors) if cors else None
        self.base = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.entries: weakref.WeakKeyDictionary[PyramidReader, dict[tuple[Any, ...], Any]]
        self.entries = weakref.WeakKeyDictionary()
        self.n_entries = 0
        self.formats: dict[tuple[str | None, str | None], Format | None] = {}
        self.keys: dict[str, str] = {}  # verified request path -> pyramid key
        self.urls: dict[str, Parsed | None] = {}  # request path (no root path) -> parse()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or scope["query_string"]
            or not await self.answer(scope, send)
        ):
            await self.app(scope, receive, send)

    def _route_path(self, scope: Scope) -> str:
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        if self.base and path.startswith(self.base + "/"):
            path = path[len(self.base) :]
        return path

    def _parse(self, scope: Scope) -> Parsed | None:
        """:func:`parse` of the route path, remembered per request path (no regex a tile)."""
        if scope.get("root_path"):
            return parse(self._route_path(scope))
        found = self.urls.get(scope["path"], _UNKNOWN)
        if found is _UNKNOWN:
            found = parse(self._route_path(scope))
            if len(self.urls) >= MAX_ENTRIES:
                self.urls.clear()
            self.urls[scope["path"]] = found
        return found  # type: ignore[return-value]

    async def answer(self, scope: Scope, send: Send) -> bool:
        """True when the tile was sent; False leaves the request to the full app."""
        parsed = self._parse(scope)
        if parsed is None:
            return False
        path, tile, ext = parsed
        storage = self.ctx.storage
        if verified_image_path(storage, path) is None:
            return False  # the full app checks it (and remembers it)
        accept = if_none_match = origin = None
        for name, value in scope["headers"]:
            if name == b"accept" and accept is None:  # the first, as Starlette's headers
                accept = value.decode("latin-1")
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
            elif name == b"origin":
                origin = value
        if tile[0] == "pims" and self._format(ext, accept) is not Format.JPEG:
            return False  # (DeepZoom, IIIF: the extension alone says the format)
        key = self.keys.get(path)
        try:
            if key is None:
                key = pyramid_key(upload_id_of(path))
                if len(self.keys) >= MAX_PATHS:
                    self.keys.clear()
                self.keys[path] = key
            if self.ctx.inline_io:
                found = self._lookup(key, path, tile, if_none_match)
            else:  # remote storage: its reads leave the event loop
                found = await run_in_threadpool(self._lookup, key, path, tile, if_none_match)
        except CytotileError:
            return False  # the full app answers the error
        if found is None:
            return False
        entry, matched, data = found
        if matched:
            status, headers, body = 304, entry.not_modified, b""
        else:
            outputs.STATS.count(True)
            status, headers = 200, entry.ok_headers
            body = entry.prefix + data[2:] if entry.prefix else data
        if origin is not None and self.cors is not None:
            raw = list(entry.raw[matched])  # the CORS middleware edits the list
            message = {"type": "http.response.start", "status": status, "headers": raw}
            await self.cors.send(message, send, Headers(scope=scope))
        else:
            await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    def _format(self, ext: str | None, accept: str | None) -> Format | None:
        found = self.formats.get((ext, accept), False)
        if found is False:
            try:
                found = negotiate(ext, accept)
            except CytotileError:
                found = None
            if len(self.formats) >= NEGOTIATED_MAX:
                self.formats.clear()
            self.formats[(ext, accept)] = found
        return found  # type: ignore[return-value]

    def _read(self, reader: PyramidReader, entry: Entry) -> bytes:
        return reader.storage.read_range(reader.key, entry.offset, entry.count)

    def _lookup(
        self, key: str, path: str, tile: tuple[Any, ...], if_none_match: str | None
    ) -> tuple[Entry, bool, bytes] | None:
        """In the thread pool (remote storage): the reader, its entry, the tile's bytes."""
        reader = open_pyramid(self.ctx.storage, key)
        entry = self.entries.get(reader, {}).get(tile, _UNKNOWN)
        if entry is _UNKNOWN:
            entry = self._make(reader, path, tile)
        if not isinstance(entry, Entry):  # not passed through: the full app renders it
            return None
        matched = etag_matches(if_none_match, entry.etag)
        return entry, matched, b"" if matched else self._read(reader, entry)

    def _make(self, reader: PyramidReader, path: str, tile: tuple[Any, ...]) -> Entry | None:
        """The tile's entry, as the full app computes it (:mod:`cytotile.api.tiles`); None
        when the tile is not sent untouched. Domain errors propagate (full app's answer)."""
        view = ImageView(self.ctx.storage, upload_id_of(path), reader)
        found = resolve(view, self.ctx, tile)
        if found is None:
            self._keep(reader, tile, None)  # remembered: the next time goes straight on
            return None
        got, plane = found
        tier, tile_tx, tile_ty, etag = got.tier, got.tile_tx, got.tile_ty, got.etag
        stored = reader.tier(plane, tier.level)
        index = tile_ty * stored.n_tx + tile_tx
        if index in stored.edge_tiles:
            (offset, count), prefix = stored.edge_tiles[index], b""
        else:
            offset, count = stored.offsets[index], stored.byte_counts[index]
            prefix = stored.jpeg_tables[:-2] if stored.jpeg_tables else b""
        size = count - 2 + len(prefix) if prefix else count
        caching = caching_headers(etag, self.ctx.settings.cache_max_age)
        cached = [(k.lower().encode(), v.encode()) for k, v in caching.items()]
        ok = [
            *got.front,
            (b"x-cytotile-passthrough", b"1"),
            (b"x-pims-cache", b"HIT"),  # PIMS's header: the stored tile, not rendered (http.py)
            (b"content-length", str(size).encode()),
            (b"content-type", Format.JPEG.media_type.encode()),
            *cached,
            *got.back,
        ]
        not_modified = [*cached, *got.back]
        cors_ok, cors_304 = self._cors_headers(200, ok), self._cors_headers(304, not_modified)
        entry = Entry(etag, cors_ok, cors_304, (ok, not_modified), offset, count, prefix)
        self._keep(reader, tile, entry)
        return entry

    def _keep(self, reader: PyramidReader, tile: tuple[Any, ...], entry: Entry | None) -> None:
        if self.n_entries >= MAX_ENTRIES:
            self.entries, self.n_entries = weakref.WeakKeyDictionary(), 0
        self.entries.setdefault(reader, {})[tile] = entry
        self.n_entries += 1

    def _cors_headers(
        self, status: int, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """``headers`` as the CORS middleware leaves them for a request without Origin."""
        if self.cors is None:
            return headers
        sent: list[Message] = []

        async def keep(message: Message) -> None:
            sent.append(message)

        start = {"type": "http.response.start", "status": status, "headers": list(headers)}
        step = self.cors.send(start, keep, _NO_ORIGIN)
        try:  # it never waits (keep does not): one step runs it to the end
            step.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - a CORS middleware that suspends
            step.close()
            raise RuntimeError("the CORS middleware suspended while adding headers")
        return list(sent[0]["headers"])


def fast_path(context: Context, cors: dict[str, Any] | None, base_path: str) -> Callable[..., Any]:
    """A middleware factory for ``Middleware(...)``."""
    return lambda app: TileFastPath(app, context, cors, base_path)
