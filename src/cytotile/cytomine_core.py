"""A Cytomine core's REST API, called as Cytomine's own clients call it (standard library only:
the serving side asks the core for users' keys, the import side registers what it imports).

``CoreClient(url, public, private)``: ``url`` is the core's API root (``https://core/api``); a
call to ``uploadedfile.json`` goes to ``<url>/uploadedfile.json`` with ``Accept: application/json,
*/*``, a ``Date``, ``Content-Type: application/json`` when it has a body, and ``authorization:
CYTOMINE <public>:<signature>`` over ``METHOD\\n\\n<content type>\\n<date>\\n<path>?<query>``,
the path being the full one (``/api/uploadedfile.json``). A model the core creates or updates
comes back wrapped in its class name (``{"uploadedfile": {...}}``): :meth:`CoreClient.saved`
unwraps it. Every failure (refused, down, not JSON) is a :class:`CoreError`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from cytotile.cytomine_hmac import sign, text_to_sign

JSON_TYPE = "application/json"


class CoreError(Exception):
    """A call the core refused (``status``: its HTTP status) or that never got an answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def parse_pair(text: str, name: str = "CYTOTILE_CORE_KEYS") -> tuple[str, str]:
    """``public:private`` as (public, private)."""
    public, sep, private = text.partition(":")
    if not sep or not public.strip() or not private.strip():
        raise ValueError(f"{name}: public:private is expected")
    return public.strip(), private.strip()


@dataclasses.dataclass(frozen=True)
class CoreClient:
    url: str
    public: str
    private: str = dataclasses.field(repr=False)
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, url: str, keys: str, timeout_s: float = 10.0) -> CoreClient:
        public, private = parse_pair(keys)
        return cls(url.rstrip("/"), public, private, timeout_s)

    def as_user(self, public: str, private: str) -> CoreClient:
        """The same core, calls signed with a user's key pair."""
        return dataclasses.replace(self, public=public, private=private)

    def get(self, uri: str) -> Any:
        return self.call("GET", uri)

    def post(self, uri: str, body: Any) -> Any:
        return self.call("POST", uri, body)

    def put(self, uri: str, body: Any) -> Any:
        return self.call("PUT", uri, body)

    def saved(self, method: str, uri: str, model: dict[str, Any], kind: str) -> dict[str, Any]:
        """POST (create) or PUT (update) ``model``; the core's object as it answers it."""
        answer = self.call(method, uri, model)
        found = answer.get(kind) if isinstance(answer, dict) else None
        if not isinstance(found, dict):
            raise CoreError(f"{method} {uri}: the core's answer has no {kind!r} object")
        return found

    def call(self, method: str, uri: str, body: Any = None) -> Any:
        """One signed call; the JSON answer (None when empty)."""
        import http.client
        import urllib.error
        import urllib.parse
        import urllib.request

        url = f"{self.url}/{uri.lstrip('/')}"
        target = urllib.parse.urlsplit(url)
        signed = target.path + (f"?{target.query}" if target.query else "")
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        kind = JSON_TYPE if body is not None else ""
        text = text_to_sign(method, "", kind, date, signed)
        signature = sign(self.private, text)
        headers = {"Accept": "application/json, */*", "Date": date,
                   "X-Requested-With": "XMLHttpRequest",
                   "Authorization": f"CYTOMINE {self.public}:{signature}"}  # fmt: skip
        data = None
        if body is not None:
            headers["Content-Type"] = kind
            data = json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            raise CoreError(f"{method} {uri}: {exc.code} {_message(exc)}", exc.code) from None
        # refused, timed out, a bad URL, an answer cut short
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise CoreError(f"{method} {uri}: no answer ({exc})") from None
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:
            raise CoreError(f"{method} {uri}: the core's answer is not JSON") from None


def _message(exc: Any) -> str:
    """The core's own words for a refusal (``errors`` or ``message``), short."""
    try:
        body = json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        body = {}
    words = body.get("errors") or body.get("message") if isinstance(body, dict) else None
    return " ".join(str(words or exc.reason).split())[:200]
