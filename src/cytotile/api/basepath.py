"""Serving the API under a base path too (``/ims``, where Cytomine's core and nginx reach PIMS).

Cytomine's core calls ``<pims url>/ims/image/...`` and its nginx passes the path unchanged
(``proxy_pass`` without a URI), so PIMS runs with ``API_BASE_PATH=/ims``. cytotile answers
both ``/image/...`` and ``/ims/image/...``: a request under the base path gets it appended to
``root_path``, and Starlette routes what follows (ASGI: ``path`` keeps the full path, links
built from ``root_path`` keep the prefix).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class BasePath:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.prefix and scope["type"] in ("http", "websocket"):
            path, root = scope["path"], scope.get("root_path", "")
            route_path = path[len(root) :] if root and path.startswith(root + "/") else path
            if route_path == self.prefix or route_path.startswith(self.prefix + "/"):
                scope = {**scope, "root_path": scope.get("root_path", "") + self.prefix}
        await self.app(scope, receive, send)
