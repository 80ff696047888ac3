"""Errors are always JSON {title, details}: domain errors, routing errors, unexpected ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.api.errors import STATUS, status_of
from cytotile.errors import BadParameter, CytotileError, ImageNotFound, PyramidError, TooLarge
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage


class ExplodingStorage(LocalStorage):
    def read_range(self, key: str, start: int, length: int) -> bytes:
        raise RuntimeError("disk on fire")


def test_status_table() -> None:
    assert status_of(ImageNotFound("x")) == 404
    assert status_of(BadParameter("x")) == 422
    assert status_of(TooLarge("x")) == 400
    assert status_of(PyramidError("x")) == 500
    assert status_of(CytotileError("x")) == 500
    assert all(isinstance(code, int) for code in STATUS.values())


def test_unexpected_error_is_json_500(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    storage = ExplodingStorage(tmp_path)
    client = TestClient(create_app(ServerSettings(root=str(tmp_path)), storage))
    response = client.get("/image/upload-boom/normalized-tile/level/0/ti/0")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"title", "details"} and "RuntimeError" in body["details"]
    assert "disk on fire" not in body["details"]  # internals stay in the log
    assert "disk on fire" in caplog.text


def test_corrupt_pyramid_is_500(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write_bytes("upload-bad/processed/visualisation.PYRTIFF", b"II*\x00garbage" * 100)
    client = TestClient(create_app(ServerSettings(root=str(tmp_path)), storage))
    response = client.get("/image/upload-bad/normalized-tile/level/0/ti/0")
    assert response.status_code == 500
    assert set(response.json()) == {"title", "details"}


def test_routing_errors_are_json(tmp_path: Path) -> None:
    client = TestClient(create_app(ServerSettings(root=str(tmp_path))))
    missing = client.get("/no/such/route")
    assert missing.status_code == 404 and set(missing.json()) == {"title", "details"}
    wrong = client.put("/info")
    assert wrong.status_code == 405 and set(wrong.json()) == {"title", "details"}
    assert "GET" in wrong.headers["allow"]
    not_image = client.get("/image/not-an-upload/info")
    assert not_image.status_code == 404  # PIMS: an unknown image is a 404


def test_cors(tmp_path: Path) -> None:
    client = TestClient(create_app(ServerSettings(root=str(tmp_path))))
    response = client.get("/info", headers={"Origin": "https://viewer.example.org"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "ETag" in response.headers["access-control-expose-headers"]
    closed = TestClient(create_app(ServerSettings(root=str(tmp_path), cors_origins="")))
    assert "access-control-allow-origin" not in closed.get("/info", headers={"Origin": "x"}).headers
