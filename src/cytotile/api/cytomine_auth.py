"""Cytomine's HMAC authentication, as PIMS checks it: ``authorization: CYTOMINE <public
key>:<signature>``, where the signature is base64(HMAC-SHA1(private key, text)) and the text is

    <METHOD>\\n<content-MD5>\\n<content-type>\\n<date>\\n<path>?<query>

(``content-type-full`` wins over ``content-type``, and ``"null"`` counts as empty; ``dateFull``
stands in for a missing ``date``; the path is the full one, base path included, as Cytomine's
clients sign it). The private key is one of ``CYTOTILE_CYTOMINE_KEYS`` (``public:private,...``,
never logged nor shown) or, as PIMS does, the one the core gives for that public key
(``CYTOTILE_CORE_URL``: :mod:`cytotile.api.cytomine_keys`, cached; a core that cannot answer is a
401 with the reason, never a 500).

What is protected (``CYTOTILE_CYTOMINE_AUTH_SCOPE``): ``writes`` (the default) asks the
signature of uploads, DELETE and exports (PIMS asks it of uploads), and leaves every other route
public, so tile URLs stay cacheable by a CDN that does not forward ``Authorization``; ``all``
asks it of every request but ``OPTIONS`` (CORS preflights) and ``/ping``. A signed request also
passes the admin-token guard (:mod:`cytotile.api.admin`). A ``Date`` more than
``CYTOTILE_CYTOMINE_AUTH_MAX_SKEW_S`` away from now (0: not checked) is refused: a captured
signature cannot be replayed later.
"""

from __future__ import annotations

import dataclasses
import hmac
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from cytotile.api.errors import error_response
from cytotile.cytomine_hmac import parse_keys as hmac_keys
from cytotile.cytomine_hmac import sign, text_to_sign
from cytotile.errors import BadParameter

if TYPE_CHECKING:
    from cytotile.api.cytomine_keys import CoreKeys
    from cytotile.settings import ServerSettings

#: the scope keys a verified request carries: the public key it was signed with, and its private
#: key (the upload route acts as that user in the core, as PIMS does; never logged)
VERIFIED = "cytotile.cytomine_key"
VERIFIED_PRIVATE = "cytotile.cytomine_private_key"
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


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    """What the middleware checks: the configured keys, the core that knows the others."""

    keys: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)
    which: str = "writes"
    base_path: str = ""
    max_skew_s: int = 900
    core: CoreKeys | None = None

    def __post_init__(self) -> None:
        if self.which not in SCOPES:
            raise BadParameter(f"CYTOTILE_CYTOMINE_AUTH_SCOPE: one of {', '.join(SCOPES)}")

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> AuthConfig | None:
        """None when there is nothing to check against (no keys, no core): no middleware."""
        core = None
        if settings.core_url:
            from cytotile.api.cytomine_keys import CoreKeys
            from cytotile.cytomine_core import CoreClient

            try:
                client = CoreClient.from_settings(settings.core_url, settings.core_keys)
            except ValueError as exc:
                raise BadParameter(str(exc)) from None
            core = CoreKeys(client, settings.core_key_ttl_s)
        if not settings.cytomine_keys and core is None:
            return None
        return cls(parse_keys(settings.cytomine_keys), settings.cytomine_auth_scope,
                   settings.api_base_path, settings.cytomine_auth_max_skew_s, core)  # fmt: skip


class CytomineAuth:
    """ASGI middleware: 401 ``{title, details}`` unless a protected request is signed with a
    known key; a verified request carries its key pair in ``scope[VERIFIED]`` and
    ``scope[VERIFIED_PRIVATE]``."""

    def __init__(
        self, app: ASGIApp, config: AuthConfig, cors: dict[str, Any] | None = None
    ) -> None:
        self.app, self.config = app, config
        base = config.base_path.strip("/")
        self.base = "/" + base if base else ""
        self.reject: ASGIApp = CORSMiddleware(self._refuse, **cors) if cors else self._refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and protected(scope, self.config.which, self.base):
            private, problem = await self.private_key(scope)
            public = ""
            if not problem:
                problem, public = self.check(scope, private)
            if problem:
                await self.reject({**scope, VERIFIED + ".problem": problem}, receive, send)
                return
            scope = {**scope, VERIFIED: public, VERIFIED_PRIVATE: private}
        await self.app(scope, receive, send)

    async def private_key(self, scope: Scope) -> tuple[str, str]:
        """(private key, "") of the request's public key, else ("", why)."""
        scheme, _, credentials = Headers(scope=scope).get("authorization", "").partition(" ")
        public, sep, _ = credentials.strip().partition(":")
        if scheme != "CYTOMINE" or not sep:
            return "", "this route needs authorization: CYTOMINE <public key>:<signature>"
        private = self.config.keys.get(public)
        if private is not None:
            return private, ""
        core = self.config.core
        if core is None:
            return "", "the public key is not one of this server's Cytomine keys"
        from cytotile.api.cytomine_keys import KeyLookupError

        try:
            if core.cached(public)[0]:  # from the cache: no call
                return core.private_key(public), ""
            import anyio.to_thread

            return await anyio.to_thread.run_sync(core.private_key, public), ""
        except KeyLookupError as exc:
            return "", str(exc)

    def check(self, scope: Scope, private: str) -> tuple[str, str]:
        """("", public key) when the signature is right for ``private``, else (why, "")."""
        headers = Headers(scope=scope)
        public, _, signature = headers["authorization"].partition(" ")[2].strip().partition(":")
        query = scope.get("query_string", b"").decode("latin-1")
        raw = scope.get("raw_path") or b""  # None through Mangum (API Gateway)
        paths = {scope["path"], raw.decode("latin-1") or scope["path"]}
        # API Gateway hands the query over decoded, Mangum encodes it again (34,35: 34%2C35):
        # there the client's own text is the decoded one
        queries = {query, unquote_plus(query)} if not raw else {query}
        texts = [t for p in paths for q in queries
                 for t in texts_to_sign(scope["method"], headers, p, q)]  # fmt: skip
        if not any(hmac.compare_digest(sign(private, t), signature.strip()) for t in texts):
            return "the signature does not match the request", ""
        skew = self.config.max_skew_s
        if skew and not fresh(headers.get("date", headers.get("datefull")), skew):
            return f"the Date header is missing or over {skew} s from now", ""
        return "", public

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        details = scope[VERIFIED + ".problem"]
        await error_response(401, "Unauthorized", details, **REALM)(scope, receive, send)


def fresh(date: str | None, max_skew_s: int) -> bool:
    try:
        at = parsedate_to_datetime(date or "").timestamp()
    except (TypeError, ValueError):
        return False
    return abs(time.time() - at) <= max_skew_s
