"""Path traversal: refused with a 4xx JSON answer, and nothing outside the root is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cytotile.storage.local import LocalStorage
from tests.api.conftest import Images

ATTACKS = [
    "/image/..%2F..%2Fetc/info",
    "/image/..%2F..%2Fetc%2Fpasswd/info",
    "/image/%2e%2e/%2e%2e/etc/passwd/info",
    "/image/%2e%2e%2f%2e%2e%2fsecret.txt/info",
    "/image//etc/passwd/info",
    "/image/%2Fetc%2Fpasswd/metadata",
    "/image/upload-x/../../secret.txt/info",
    "/image/upload-x%2F..%2F..%2Fsecret.txt/info",
    "/image/upload-x%252F..%252F..%252Fsecret.txt/info",
    "/image/..%5C..%5Csecret.txt/info",
    "/image/upload-x%00/info",
    "/image/..%2F..%2Fsecret.txt/normalized-tile/level/0/ti/0",
    "/image/..%2F..%2Fsecret.txt/thumb",
    "/image/..%2F..%2Fsecret.txt/associated/label",
    "/image/..%2F..%2Fsecret.txt/histograms/full",
    "/file/..%2F..%2Fsecret.txt/info",
    "/file/upload-x%2F..%2F..%2Fsecret.txt/info",
    "/static/..%2F..%2F..%2Fsecret.txt",
    "/static/../../secret.txt",
]


@pytest.fixture
def watched(images: Images, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every filesystem path the storage resolves; fails on any outside the root."""
    seen: list[Path] = []
    original = LocalStorage._path

    def checked(self: LocalStorage, key: str) -> Path:
        path = original(self, key)
        seen.append(path)
        assert path.resolve().is_relative_to(self.base), path
        return path

    monkeypatch.setattr(LocalStorage, "_path", checked)
    return seen


@pytest.mark.parametrize("url", ATTACKS)
def test_traversal_is_refused(
    client: TestClient, images: Images, watched: list[Path], url: str
) -> None:
    secret = images.root.parent / "secret.txt"
    secret.write_text("TOP SECRET")
    response = client.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code)
    assert response.headers["content-type"].startswith("application/json"), url
    assert set(response.json()) == {"title", "details"}
    assert b"TOP SECRET" not in response.content
    for path in watched:
        assert path.resolve().is_relative_to(images.root.resolve())


def test_post_and_delete_traversal(client: TestClient, watched: list[Path]) -> None:
    assert client.post("/image/..%2F..%2Fx/window", json={"ti": 0}).status_code == 400
    assert (
        client.post("/image/..%2F..%2Fx/normalized-tile", json={"level": 0, "ti": 0}).status_code
        == 400
    )
    assert client.delete("/image/upload-x%2F..%2F..").status_code == 400
