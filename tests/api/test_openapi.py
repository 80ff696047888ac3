"""GET /openapi.json is in step with the routes: every route is described, every described
path and method reaches a route."""

from __future__ import annotations

import re

from starlette.routing import Match, Mount
from starlette.testclient import TestClient

from cytotile.api.openapi import description_of, openapi_paths
from tests.api.conftest import Images

EXAMPLES = {
    "tier": "zoom",
    "format": "jpg",
    "fmt": "jpg",
    "version": "3",
    "region": "full",
    "size": "max",
    "rotation": "0",
    "quality": "default",
    "kind": "label",
    "role": "UPLOAD",
    "id": "x",
}


def _concrete(path: str, image_path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return image_path if name == "path" else EXAMPLES.get(name, "0")

    return re.sub(r"\{(\w+)\}", value, path)


def test_openapi_json(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    assert doc["paths"]["/image/{path}/thumb.{format}"]["get"]["responses"]["200"]["content"]


def test_every_route_is_described(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount):  # static assets of the viewer: not API
            continue
        assert description_of(route) is not None, f"{route.path} has no OpenAPI description"
        for path in openapi_paths(route.path):
            methods = {m.lower() for m in route.methods or ()} - {"head"}
            assert methods <= set(doc["paths"][path]), (path, methods)


def test_every_described_path_exists(client: TestClient, images: Images) -> None:
    doc = client.get("/openapi.json").json()
    routes = client.app.routes  # type: ignore[attr-defined]
    for path, operations in doc["paths"].items():
        url = _concrete(path, images.rgb.path)
        for method in operations:
            scope = {"type": "http", "path": url, "method": method.upper()}
            matched = [r for r in routes if r.matches(scope)[0] is Match.FULL]
            assert matched, f"{method.upper()} {path} ({url}) reaches no route"
