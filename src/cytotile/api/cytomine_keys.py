"""Users' keys asked of the Cytomine core, as PIMS checks a request signed by any Cytomine user:
``GET userkey/<public key>/keys.json`` signed with this server's key pair
(``CYTOTILE_CORE_KEYS``) answers the user's ``privateKey``.

An answer is kept ``CYTOTILE_CORE_KEY_TTL_S`` seconds (a key the core does not know, a tenth of
that, at least 5 s: a stream of bad keys does not reach the core for each request); a failure to
ask (down, refusing this server's pair) is never kept. Every failure is a :class:`KeyLookupError`
with a reason for the 401; the private keys are never logged.
"""

from __future__ import annotations

import threading
import time
import urllib.parse

from cytotile.cytomine_core import CoreClient, CoreError

MAX_ENTRIES = 10_000


class KeyLookupError(Exception):
    """Why a public key has no private key (the 401's details)."""


class CoreKeys:
    def __init__(self, core: CoreClient, ttl_s: float = 300.0) -> None:
        self.core, self.ttl_s = core, ttl_s
        self._known: dict[str, tuple[float, str | None]] = {}  # public -> (until, private)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CoreKeys({self.core.url!r}, ttl_s={self.ttl_s})"

    def cached(self, public: str) -> tuple[bool, str | None]:
        """(known, private) from the cache; (False, None) when the core must be asked."""
        with self._lock:
            entry = self._known.get(public)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def private_key(self, public: str) -> str:
        """The private key of ``public`` (blocking: the core may be asked)."""
        known, private = self.cached(public)
        if not known:
            private = self._ask(public)
        if private is None:
            raise KeyLookupError("the Cytomine core knows no such public key")
        return private

    def _ask(self, public: str) -> str | None:
        try:
            answer = self.core.get(f"userkey/{urllib.parse.quote(public, safe='')}/keys.json")
        except CoreError as exc:
            if exc.status == 404:
                self._keep(public, None)
                return None
            if exc.status in (401, 403):
                raise KeyLookupError(
                    "the Cytomine core refused this server's key pair: the key cannot be checked"
                ) from None
            raise KeyLookupError(
                f"the Cytomine core could not be asked for the key: {exc}"
            ) from None
        private = answer.get("privateKey") if isinstance(answer, dict) else None
        if not isinstance(private, str) or not private:
            self._keep(public, None)
            return None
        self._keep(public, private)
        return private

    def _keep(self, public: str, private: str | None) -> None:
        ttl = self.ttl_s if private is not None else max(5.0, self.ttl_s / 10)
        with self._lock:
            if len(self._known) >= MAX_ENTRIES:
                now = time.monotonic()
                self._known = {k: v for k, v in self._known.items() if v[0] >= now}
                if len(self._known) >= MAX_ENTRIES:
                    self._known.clear()
            self._known[public] = (time.monotonic() + ttl, private)
