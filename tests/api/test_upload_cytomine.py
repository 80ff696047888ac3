"""Cytomine's upload call: POST /ims/upload?idStorage=..&idProject=..&keys=..&values=.. with
multipart files[], through the real import: PIMS's answer members and the fields recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips
from starlette.testclient import TestClient

from cytotile.api.cytomine import UploadFields, parse_fields
from cytotile.errors import BadParameter
from cytotile.manifest import Manifest
from tests.api.conftest import Images


@pytest.fixture
def png(tmp_path: Path) -> bytes:
    source = tmp_path / "small.png"
    pyvips.Image.xyz(300, 200)[0].cast("uchar").pngsave(str(source))
    return source.read_bytes()


RECORDED = {"storage": 12, "projects": [34, 35], "properties": {"k1": "v1", "k2": "v2"}}


def test_upload_call_answered_at_once(client: TestClient, images: Images, png: bytes) -> None:
    """Cytomine's call (no sync): PIMS's answer before the import, the import after it."""
    url = "/ims/upload?idStorage=12&idProject=34,35&keys=k1,k2&values=v1,v2"
    response = client.post(url, files={"files[]": ("small.png", png)})
    assert response.status_code == 200, response.text
    (item,) = response.json()
    uploaded = item["uploadedFile"]
    assert uploaded["storage"] == 12 and uploaded["projects"] == [34, 35]
    assert uploaded["status"] == 0 and item["status"] == "UPLOADED" and item["images"] == []
    assert uploaded["originalFilename"] == "small.png" and uploaded["ext"] == "png"
    assert item["size"] == len(png) and item["path"] == f"{item['id']}/small.png"
    # the test client returns once the background task has run: the import is over
    manifest = Manifest.load(images.storage, item["id"])
    assert manifest.status.value == "DEPLOYED"
    assert manifest.source["cytomine"] == {**RECORDED, "sync": False, "core": None}
    tile = client.get(f"/ims/image/{item['path']}/normalized-tile/zoom/0/ti/0")
    assert tile.status_code == 200


def test_upload_call_sync(client: TestClient, images: Images, png: bytes) -> None:
    url = "/upload?storage=12&projects=34,35&keys=k1,k2&values=v1,v2&sync=true"
    response = client.post(url, files={"files[]": ("small.png", png)})
    (item,) = response.json()
    assert item["status"] == "DEPLOYED" and item["uploadedFile"]["status"] == 100
    assert item["images"][0]["width"] == 300
    manifest = Manifest.load(images.storage, item["id"])
    assert manifest.source["cytomine"] == {**RECORDED, "sync": True, "core": None}


@pytest.mark.parametrize(
    ("query", "detail"),
    [("idStorage=x", "integers"), ("idProject=1,b", "integers"), ("keys=a,b&values=1", "keys"),
     ("sync=maybe", "sync")],
)  # fmt: skip
def test_bad_fields_refused_before_the_body(client: TestClient, query: str, detail: str) -> None:
    response = client.post(f"/upload?{query}", files={"files[]": ("a.png", b"never read")})
    assert response.status_code == 422 and detail in response.json()["details"]


def test_parse_fields() -> None:
    fields = parse_fields({"storage": "3", "projects": "4", "sync": "true", "core": "http://core"})
    assert fields == UploadFields(3, (4,), (), True, "http://core") and fields.given
    assert not parse_fields({}).given
    with pytest.raises(BadParameter):
        parse_fields({"values": "v"})
