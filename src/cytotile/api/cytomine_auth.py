"""Cytomine's HMAC authentication, as PIMS checks it: ``authorization: CYTOMINE <public
key>:<signature>``, where the signature is base64(HMAC-SHA1(private key, text)) and the text is

    <METHOD>\\n<content-MD5>\\n<content-type>\\n<date>\\n<path>?<query>

(``content-type-full`` wins over ``content-type``, and ``"null"`` counts as empty; ``dateFull``
stands in for a missing ``date``; the path is the full one, base path included, as Cytomine's
clients sign it). PIMS fetches a user's private key from its core; cytotile checks the keys of
``CYTOTILE_CYTOMINE_KEYS`` (``public:private,...``, never logged nor shown).

What is protected (``CYTOTILE_CYTOMINE_AUTH_SCOPE``): ``writes`` (the default) asks the
signature of uploads, DELETE and exports (PIMS asks it of uploads), and leaves every other route
public, so tile URLs stay cacheable by a CDN that does not forward ``Authorization``; ``all``
asks it of every request but ``OPTIONS`` (CORS preflights) and ``/ping``. A signed request also
passes the admin-token guard (:mod:`cytotile.api.admin`). A ``Date`` more than
``CYTOTILE_CYTOMINE_AUTH_MAX_SKEW_S`` away from now (0: not checked) is refused: a captured
signature cannot be replayed later.
"""

from __future__ import annotations

import hmac
import time
from email.utils import parsedate_to_datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from cytotile.api.errors import error_response
from cytotile.cytomine_hmac import parse_keys as hmac_keys
from cytotile.cytomine_hmac import sign, text_to_sign
from cytotile.errors import BadParameter

#: the scope key a verified request carries: the public key it was signed with
VERIFIED = "cytotile.cytomine_key"
SCOPES = ("writes", "all")
REALM = {"WWW-Authenticate": 'CYTOMINE realm="cytotile"'}


def parse_keys(text: str) -> dict[str, str]:
    """``public:private,...`` as {public: private}."""
    try:
        return hmac_keys(text)
    except ValueError:
        raise BadParameter("CYTOTILE_CYTOMINE_KEYS: public:private pairs are expected") from None


def texts_to_sign(method: str, headers: Headers, path: str, query: str) -> list[str]:
    """The text PIMS signs; without a query, also the path alone (Cytomine's Python client
    appends ``?`` only before a query, PIMS always)."""
    content_type = headers.get("content-type-full", headers.get("content-type", ""))
    content_type = "" if content_type == "null" else content_type
    date = headers.get("date", headers.get("datefull", ""))
    md5 = headers.get("content-md5", "")
    targets = [path + "?" + query] + ([path] if not query else [])
    return [text_to_sign(method, md5, content_type, date, target) for target in targets]


def protected(scope: Scope, which: str, base_path: str) -> bool:
    method = scope["method"]
    if method == "OPTIONS":
        return False
    path: str = scope["path"]
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path) :]
    if which == "all":
        return path != "/ping"
    if method == "DELETE":
        return True
    if method == "POST":
        return path == "/upload" or path.startswith("/upload/")
    return path.endswith("/export") and path.startswith(("/image/", "/file/"))


class CytomineAuth:
    """ASGI middleware: 401 ``{title, details}`` unless a protected request is signed with a
    configured key; a verified request carries its public key in ``scope[VERIFIED]``."""

    def __init__(
        self,
        app: ASGIApp,
        keys: dict[str, str],
        which: str = "writes",
        base_path: str = "",
        max_skew_s: int = 900,
        cors: dict[str, Any] | None = None,
    ) -> None:
        if which not in SCOPES:
            raise BadParameter(f"CYTOTILE_CYTOMINE_AUTH_SCOPE: one of {', '.join(SCOPES)}")
        self.app, self.keys, self.which, self.max_skew_s = app, keys, which, max_skew_s
        self.base = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.reject: ASGIApp = CORSMiddleware(self._refuse, **cors) if cors else self._refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and protected(scope, self.which, self.base):
            problem, public = self.check(scope)
            if problem:
                await self.reject({**scope, VERIFIED + ".problem": problem}, receive, send)
                return
            scope = {**scope, VERIFIED: public}
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> tuple[str, str]:
        """("", public key) when the signature is right, else (why, "")."""
        headers = Headers(scope=scope)
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        public, sep, signature = credentials.strip().partition(":")
        if scheme != "CYTOMINE" or not sep:
            return "this route needs authorization: CYTOMINE <public key>:<signature>", ""
        private = self.keys.get(public)
        if private is None:
            return "the public key is not one of this server's Cytomine keys", ""
        query = scope.get("query_string", b"").decode("latin-1")
        paths = {scope["path"], scope.get("raw_path", b"").decode("latin-1") or scope["path"]}
        texts = [t for p in paths for t in texts_to_sign(scope["method"], headers, p, query)]
        if not any(hmac.compare_digest(sign(private, t), signature.strip()) for t in texts):
            return "the signature does not match the request", ""
        if self.max_skew_s and not self._fresh(headers.get("date", headers.get("datefull"))):
            return f"the Date header is missing or over {self.max_skew_s} s from now", ""
        return "", public

    def _fresh(self, date: str | None) -> bool:
        try:
            at = parsedate_to_datetime(date or "").timestamp()
        except (TypeError, ValueError):
            return False
        return abs(time.time() - at) <= self.max_skew_s

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        details = scope[VERIFIED + ".problem"]
        await error_response(401, "Unauthorized", details, **REALM)(scope, receive, send)
