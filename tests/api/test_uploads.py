"""The upload list, POST /upload (with a stand-in import flow) and deletion."""

from __future__ import annotations

import hashlib
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cytotile.manifest import Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage.base import Storage
from tests.api.conftest import Images
from tests.helpers.deployed import deploy, grey_source


@pytest.fixture
def fake_flow(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``cytotile.importer.flow`` replaced: records what it was given, never converts."""
    calls: list[dict[str, Any]] = []

    def import_file(
        storage: Storage, local_path: Path, *, name: str, settings: ImportSettings
    ) -> Manifest:
        data = local_path.read_bytes()
        calls.append({"name": name, "sha": hashlib.sha256(data).hexdigest(), "size": len(data)})
        manifest = Manifest(id=f"upload-fake{len(calls)}", original_name=name, size=len(data))
        if data.startswith(b"bad"):
            manifest.status, manifest.reason = Status.ERROR_FORMAT, "not an image"
        else:
            manifest.status = Status.DEPLOYED
            manifest.image = {"width": 10, "height": 20}
        manifest.save(storage)
        return manifest

    module = types.ModuleType("cytotile.importer.flow")
    module.import_file = import_file  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cytotile.importer.flow", module)
    return calls


def test_list_uploads(client: TestClient, images: Images) -> None:
    response = client.get("/uploads")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    items = response.json()
    assert isinstance(items, list)
    by_id = {item["id"]: item for item in items}
    rgb = by_id[images.rgb.upload_id]
    assert rgb["original_name"] == "CMU-1.svs" and rgb["status"] == "DEPLOYED"
    assert (rgb["width"], rgb["height"]) == (1001, 777)
    assert rgb["path"] == images.rgb.path
    assert {"reason", "format_id", "created_at"} <= set(rgb)
    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)


def test_upload_multipart(client: TestClient, fake_flow: list[dict[str, Any]]) -> None:
    big = os.urandom(3 << 20) + b"\r\n--" + os.urandom(1000)  # looks like a delimiter start
    files = [("files[]", ("slide one.svs", big)), ("files[]", ("bad.tif", b"bad data"))]
    response = client.post("/upload", files=files, data={"core": "x"})
    assert response.status_code == 200, response.text
    items = response.json()
    assert [item["status"] for item in items] == ["DEPLOYED", "ERROR_FORMAT"]
    assert items[0]["name"] == "slide one.svs" and items[0]["uploaded_file"]["id"] == items[0]["id"]
    assert items[0]["images"] == [{"path": items[0]["path"], "width": 10, "height": 20}]
    assert items[1]["reason"] == "not an image" and items[1]["images"] == []
    assert fake_flow[0]["sha"] == hashlib.sha256(big).hexdigest()
    assert fake_flow[1]["size"] == len(b"bad data")


def test_upload_single_file_field_and_raw_body(
    client: TestClient, fake_flow: list[dict[str, Any]]
) -> None:
    response = client.post("/upload", files={"file": ("a.png", b"png bytes")})
    assert response.json()[0]["original_name"] == "a.png"
    raw = client.post("/upload?name=raw.jpg", content=b"jpeg bytes",
                      headers={"content-type": "application/octet-stream"})  # fmt: skip
    assert raw.status_code == 200
    assert raw.json()[0]["original_name"] == "raw.jpg"
    assert fake_flow[1]["size"] == len(b"jpeg bytes")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=XYZ", b"--XYZ\r\nContent-Disposition: form-data; "
                                              b'name="file"; filename="a"\r\n\r\nabc'),
        ("multipart/form-data; boundary=XYZ", b"--XYZ\r\nContent-Disposition: form-data; "
                                              b'name="core"\r\n\r\nabc\r\n--XYZ--\r\n'),
        ("multipart/form-data", b"--XYZ--\r\n"),
        ("application/octet-stream", b""),
    ],
)  # fmt: skip
def test_upload_malformed(
    client: TestClient, fake_flow: list[dict[str, Any]], content_type: str, body: bytes
) -> None:
    response = client.post("/upload", content=body, headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"title", "details"}
    assert fake_flow == []


def test_upload_without_the_import_flow(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cytotile.importer.flow", None)
    response = client.post("/upload", files={"file": ("a.png", b"png bytes")})
    assert response.status_code == 501
    assert response.json()["title"] == "Import not available"


def test_delete(client: TestClient, images: Images) -> None:
    image = deploy(images.storage, grey_source(300, 300), "doomed.png")
    tile = f"/image/{image.path}/normalized-tile/level/0/ti/0"
    assert client.get(tile).status_code == 200  # the pyramid is now in the reader cache
    response = client.delete(f"/image/{image.path}")
    assert response.status_code == 204
    assert not (images.root / image.upload_id).exists()
    assert client.get(tile).status_code == 404
    assert client.get(f"/image/{image.path}/info").status_code == 404
    assert client.delete(f"/image/{image.path}").status_code == 404
    assert image.upload_id not in {item["id"] for item in client.get("/uploads").json()}


def test_delete_file_route_and_refusals(client: TestClient, images: Images) -> None:
    image = deploy(images.storage, grey_source(100, 100), "doomed.png")
    assert client.delete(f"/file/{image.upload_id}").status_code == 204
    assert client.delete("/image/..%2F..%2Ftmp").status_code == 400
    assert client.delete("/image/not-an-upload").status_code == 404
    assert client.delete("/image/upload-none").status_code == 404


@pytest.mark.slow
def test_upload_through_the_real_import(client: TestClient, images: Images, tmp_path: Path) -> None:
    import pyvips

    source = tmp_path / "small.png"
    pyvips.Image.xyz(300, 200)[0].cast("uchar").pngsave(str(source))
    response = client.post("/upload", files={"files[]": ("small.png", source.read_bytes())})
    assert response.status_code == 200, response.text
    item = response.json()[0]
    assert item["status"] == "DEPLOYED", item
    tile = client.get(f"/image/{item['path']}/normalized-tile/level/0/ti/0")
    assert tile.status_code == 200 and tile.headers["x-cytotile-passthrough"] == "1"
