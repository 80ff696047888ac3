"""A small fake Cytomine core on 127.0.0.1 for the tests of cytotile's calls to a core.

It checks every call's signature as a core does (``METHOD\\n<MD5>\\n<content type>\\n<date>\\n
<path?query>``, HMAC-SHA1 with the private key of the public key named), refuses an unsigned or
wrongly signed call with 401, and answers the REST API PIMS uses: ``userkey/<public>/keys.json``
(to the server's key pair only), ``user/current.json``, ``imageserver.json``, ``storage/<id>``,
``project/<id>``, ``uploadedfile`` (POST, PUT, GET), ``abstractimage``, ``abstractslice``,
``domain/<class>/<id>/property``, ``imageinstance``; created and updated models come back
wrapped in their class name as the core answers them, and the lists a retry looks records up
in (``uploadedfile.json?parent=``, ``uploadedfile/<id>/abstractimage.json``,
``abstractimage/<id>/imageinstance.json`` and ``/abstractslice.json``, an object's
``property.json``) as ``{"collection": [...]}``. ``calls`` records each call: method, path, body,
the public key that signed it, and the status answered. ``lose_at``: the call that changes the
core (POST or PUT, counted from 0 in ``changes``) carried out, but its connection cut before
the answer (the lost answer a retry must not repeat); ``lose_if(call)``: the first such call
it is true of.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SERVER = ("pims-public", "pims-private")
USER = ("user-public", "user-private")
USER_ID = 61
IMAGE_SERVER_ID = 7
AI_CLASS = "be.cytomine.domain.image.AbstractImage"


@dataclass
class Core:
    url: str = ""  # the API root, http://127.0.0.1:<port>/api
    image_server_url: str = "http://testserver"
    keys: dict[str, str] = field(default_factory=lambda: dict([SERVER, USER]))
    storages: set[int] = field(default_factory=lambda: {12})
    projects: set[int] = field(default_factory=lambda: {34, 35})
    #: paths (regular expressions) answered with a status instead
    refuse: dict[str, int] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    lose_at: int | None = None
    changes: int = 0  # calls that changed the core so far
    #: the first changing call it is true of is lost too (then it is cleared)
    lose_if: Any = None
    objects: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, method: str, pattern: str = "") -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == method and re.search(pattern, c["path"])]

    def done(self, method: str, pattern: str = "") -> list[dict[str, Any]]:
        """The calls of :meth:`of` the core carried out (answered 200)."""
        return [c for c in self.of(method, pattern) if c.get("status") == 200]

    def signer(self, method: str, headers: Any, path: str) -> str | None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        public, _, signature = credentials.partition(":")
        private = self.keys.get(public)
        if scheme != "CYTOMINE" or private is None:
            return None
        parts = [headers.get(h, "") for h in ("content-md5", "content-type", "date")]
        text = "\n".join([method, *parts, path])
        digest = hmac.new(private.encode(), text.encode(), hashlib.sha1).digest()
        return public if base64.b64encode(digest).decode() == signature else None

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            table = self.objects.setdefault(kind, {})
            made = {**body, "id": 1000 * (len(self.objects)) + len(table) + 1}
            if kind == "abstractimage":
                made["class"] = AI_CLASS
            table[made["id"]] = made
        return made

    def answer(self, method: str, path: str, body: Any, signer: str) -> tuple[int, Any]:
        route = path.split("?", 1)[0].removeprefix("/api/")
        for pattern, status in self.refuse.items():
            if re.search(pattern, route):
                return status, {"errors": f"refused {route}"}
        found = re.fullmatch(r"(\w+)/(\w+)\.json", route)
        if method == "GET" and route == "user/current.json":
            return 200, {"id": USER_ID if signer == USER[0] else 1, "username": signer}
        if method == "GET" and route.startswith("userkey/") and signer == SERVER[0]:
            public = route.split("/")[1]
            if public not in self.keys:
                return 404, {"errors": "no such key"}
            return 200, {"publicKey": public, "privateKey": self.keys[public]}
        if method == "GET" and route == "imageserver.json":
            servers = [{"id": IMAGE_SERVER_ID, "url": self.image_server_url}]
            return 200, {"collection": servers, "size": 1}
        if method == "GET" and found and found.group(1) in ("storage", "project"):
            known = self.storages if found.group(1) == "storage" else self.projects
            ok = found.group(2).isdigit() and int(found.group(2)) in known
            return (200, {"id": int(found.group(2))}) if ok else (404, {"errors": "not found"})
        if method == "POST" and re.fullmatch(r"\w+\.json", route) and isinstance(body, dict):
            kind = route[: -len(".json")]
            return 200, {kind: self.create(kind, body), "message": "created"}
        if method == "POST" and isinstance(body, list):  # a collection
            kind = "property" if route.endswith("/property.json") else route[: -len(".json")]
            for item in body:
                self.create(kind, item)
            return 200, {"status": 200, "size": len(body)}
        listed = self.listed(route, path)
        if method == "GET" and listed is not None:
            return listed
        if method in ("PUT", "GET") and found and found.group(2).isdigit():
            kind, ident = found.group(1), int(found.group(2))
            current = self.objects.get(kind, {}).get(ident)
            if current is None:
                return 404, {"errors": "not found"}
            if method == "GET":
                return 200, current
            current.update({**body, "id": ident})
            return 200, {kind: current, "message": "updated"}
        return 404, {"errors": f"no route {method} {route}"}

    def listed(self, route: str, path: str) -> tuple[int, Any] | None:
        """A lookup's answer (an object, or a list as ``{"collection": ...}``), None if not one."""
        from urllib.parse import parse_qs, urlsplit

        def collection(kind: str, **match: Any) -> tuple[int, Any]:
            items = [o for o in self.objects.get(kind, {}).values()
                     if all(o.get(k) == v for k, v in match.items())]  # fmt: skip
            return 200, {"collection": items, "size": len(items)}

        query = parse_qs(urlsplit(path).query)
        if route == "uploadedfile.json" and "parent" in query:
            return collection("uploadedfile", parent=int(query["parent"][0]))
        found = re.fullmatch(r"(\w+)/(\d+)/(\w+)\.json", route)
        if found and found.groups()[0::2] == ("uploadedfile", "abstractimage"):
            items = collection("abstractimage", uploadedFile=int(found.group(2)))[1]["collection"]
            return (200, items[0]) if items else (404, {"errors": "not found"})
        if found and found.group(1) == "abstractimage" and found.group(3) == "imageinstance":
            return collection("imageinstance", baseImage=int(found.group(2)))
        if found and found.group(1) == "abstractimage" and found.group(3) == "abstractslice":
            return collection("abstractslice", image=int(found.group(2)))
        owner = re.fullmatch(r"domain/([\w.]+)/(\d+)/property\.json", route)
        if owner:
            return collection("property", domainClassName=owner.group(1),
                              domainIdent=int(owner.group(2)))  # fmt: skip
        return None


def _handler(core: Core) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            signer = core.signer(self.command, self.headers, self.path)
            call = {"method": self.command, "path": self.path, "body": body,
                    "signer": signer, "date": self.headers.get("date")}  # fmt: skip
            core.calls.append(call)
            if signer is None:
                status, answer = 401, {"errors": "bad signature"}
            else:
                status, answer = core.answer(self.command, self.path, body, signer)
            call["status"] = status
            if self.command in ("POST", "PUT") and status == 200:
                lost = core.changes == core.lose_at
                if core.lose_if is not None and core.lose_if(call):
                    lost, core.lose_if = True, None
                core.changes += 1
                if lost:  # carried out; the connection cut before the answer
                    call["lost"] = True
                    self.close_connection = True
                    return
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = handle_one

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(core: Core | None = None) -> Iterator[Core]:
    core = core or Core()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(core))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    core.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        yield core
    finally:
        server.shutdown()
        server.server_close()
