"""The viewer page and its static files."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from cytotile.api.viewer import STATIC


def test_index(client: TestClient) -> None:
    if not (STATIC / "index.html").is_file():
        pytest.skip("the viewer is not in this tree")
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_static_files(client: TestClient) -> None:
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    if not files:
        pytest.skip("no static files in this tree")
    relative = files[0].relative_to(STATIC).as_posix()
    assert client.get(f"/static/{relative}").status_code == 200
    missing = client.get("/static/no-such-file.js")
    assert missing.status_code == 404
