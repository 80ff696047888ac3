"""HTTP caching and content negotiation.

ETags are strong validators: a hash of the pyramid's digest (or the manifest) and of the
normalized request (route, parsed parameters, negotiated type), so the same request by GET or
POST, with parameters in any order, shares one ETag. ``Cache-Control`` is public with an
``s-maxage`` so that a CDN may keep answers (PIMS's ``private`` would stop CloudFront).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cytotile.errors import BadParameter, NotAcceptable
from cytotile.pipeline.encode import EXTENSIONS, Format, Output, format_of_extension

#: server preference when the client likes several types equally (JPEG: passthrough)
PREFERENCE = (Format.JPEG, Format.PNG, Format.WEBP)


def make_etag(*parts: object) -> str:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f'"{digest}"'


def cache_control(max_age: int) -> str:
    return f"public, max-age={max_age}, s-maxage={max_age}"


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` (a list, ``*``, weak or strong tags) against ``etag``: weak comparison,
    as RFC 9110 asks for this header."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _accept(header: str) -> list[tuple[str, float]]:
    ranges = []
    for item in header.split(","):
        media, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        if media:
            ranges.append((media.strip().lower(), q))
    return ranges


def _quality(fmt: Format, ranges: list[tuple[str, float]]) -> float:
    """q of the most specific range that matches ``fmt`` (0 when none does)."""
    main = fmt.media_type.split("/")[0]
    best, specificity = 0.0, -1
    for media, q in ranges:
        level = {fmt.media_type: 2, f"{main}/*": 1, "*/*": 0}.get(media, -1)
        if level > specificity:
            best, specificity = q, level
    return best


def negotiate(ext: str | None, accept: str | None) -> Format:
    """The extension wins; else the Accept header (q-values); else JPEG. An extension that is
    not served is a bad parameter (422, as PIMS's path validation), not a 406."""
    if ext:
        if ext.lower() not in EXTENSIONS:
            raise BadParameter(f"extension {ext!r} is not served; use .jpg, .png or .webp")
        return format_of_extension(ext)
    if not accept or not accept.strip():
        return Format.JPEG
    ranges = _accept(accept)
    scored = [(_quality(fmt, ranges), -k, fmt) for k, fmt in enumerate(PREFERENCE)]
    q, _, fmt = max(scored)
    if q <= 0:
        types = ", ".join(f.media_type for f in PREFERENCE)
        raise NotAcceptable(f"cannot answer {accept!r}; this resource is one of {types}")
    return fmt


def caching_headers(etag: str, max_age: int | None) -> dict[str, str]:
    control = cache_control(max_age) if max_age is not None else "no-cache"
    return {"ETag": etag, "Cache-Control": control, "Vary": "Accept"}


def conditional(
    request: Request, etag: str, max_age: int | None, build: Callable[[], Response]
) -> Response:
    """304 when the client has ``etag``, else the built response with caching headers."""
    headers = caching_headers(etag, max_age)
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    response = build()
    response.raw_headers.extend((k.lower().encode(), v.encode()) for k, v in headers.items())
    return response


def image_response(output: Output, *, tile: bool = False) -> Response:
    headers = output.headers
    if tile:  # X-Pims-Cache as PIMS logs it: HIT, the stored tile sent as it is; MISS, rendered
        headers = {**headers, "X-Cytotile-Passthrough": "1" if output.passthrough else "0",
                   "X-Pims-Cache": "HIT" if output.passthrough else "MISS"}  # fmt: skip
    return Response(output.data, media_type=output.media_type, headers=headers)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode()
