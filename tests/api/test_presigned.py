"""``POST /upload/presigned`` against moto served over HTTP: the browser's side is httpx PUTs
and POSTs to the presigned URLs, as a browser would send them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from cytotile.api import presigned
from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.motoserver import moto_s3_server

BUCKET = "upload-bucket"
ROOT = f"s3://{BUCKET}/incoming"


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """moto on 127.0.0.1 (a real HTTP endpoint for presigned URLs) and a client on it."""
    with pytest.MonkeyPatch.context() as mp, moto_s3_server(mp, BUCKET) as client:
        yield client


def app_client(tmp_path: Path, upload_root: str) -> TestClient:
    settings = ServerSettings(root=str(tmp_path), upload_root=upload_root)
    return TestClient(create_app(settings, LocalStorage(tmp_path)))


@pytest.fixture
def api(s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(presigned, "PART_SIZE", 5 * presigned.MiB)  # S3's smallest: fast tests
    with app_client(tmp_path, ROOT) as client:
        yield client


def test_multipart_through_presigned_urls(api: TestClient, s3: Any) -> None:
    data = bytes(range(256)) * 24_000  # 6,144,000 bytes: a 5 MiB part and a short last one
    ask = {"filename": "C:\\slides\\My slide (1).svs", "size": len(data),
           "content_type": "image/tiff"}  # fmt: skip
    response = api.post("/upload/presigned", json=ask)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    plan = response.json()
    assert plan["kind"] == "multipart" and plan["bucket"] == BUCKET
    prefix, uid, name = plan["key"].split("/")
    assert (prefix, name) == ("incoming", "My_slide_1.svs")
    # the folder is the upload's id, announced in the answer and carried by the object
    assert uid.startswith("upload-") and len(uid) == 43 and plan["upload"]["id"] == uid
    assert plan["upload"]["path"] == f"{uid}/{name}" and plan["upload"]["status"] == "UPLOADED"
    size = plan["part_size"]
    assert size == 5 * presigned.MiB and [p["part_number"] for p in plan["parts"]] == [1, 2]

    parts = []
    for part in plan["parts"]:
        n = part["part_number"]
        put = httpx.put(part["url"], content=data[(n - 1) * size : n * size])
        assert put.status_code == 200, put.text
        parts.append((n, put.headers["etag"]))
    xml = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in parts
    )
    done = httpx.post(
        plan["complete_url"], content=f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>"
    )
    assert done.status_code == 200, done.text
    obj = s3.get_object(Bucket=BUCKET, Key=plan["key"])
    assert obj["Body"].read() == data and obj["ContentType"] == "image/tiff"


def test_abort_url(api: TestClient, s3: Any) -> None:
    plan = api.post("/upload/presigned", json={"filename": "x.svs", "size": 11_000_000}).json()
    assert plan["kind"] == "multipart" and len(plan["parts"]) == 3
    assert httpx.delete(plan["abort_url"]).status_code == 204
    uploads = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert plan["upload_id"] not in [u["UploadId"] for u in uploads]


def test_small_file_single_put(api: TestClient, s3: Any) -> None:
    data = b"II*\x00" + bytes(1000)
    ask = {"filename": "label.tif", "size": len(data), "content_type": "image/tiff"}
    plan = api.post("/upload/presigned", json=ask).json()
    assert plan["kind"] == "put" and plan["key"].endswith("/label.tif")
    assert httpx.put(plan["url"], content=data, headers=plan["headers"]).status_code == 200
    obj = s3.get_object(Bucket=BUCKET, Key=plan["key"])
    assert obj["Body"].read() == data and obj["ContentType"] == "image/tiff"


@pytest.mark.parametrize("root", ["", "./uploads"])
def test_local_mode_is_501(tmp_path: Path, root: str) -> None:
    with app_client(tmp_path, root) as client:
        response = client.post("/upload/presigned", json={"filename": "a.svs", "size": 1})
    assert response.status_code == 501
    body = response.json()
    assert body["title"] == "Presigned upload not available" and "POST /upload" in body["details"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[1, 2]",
        b'{"size": 10}',
        b'{"filename": "", "size": 10}',
        b'{"filename": "a.svs"}',
        b'{"filename": "a.svs", "size": -1}',
        b'{"filename": "a.svs", "size": "10"}',
        b'{"filename": "a.svs", "size": true}',
        b'{"filename": "a.svs", "size": 1.5}',
        b'{"filename": "a.svs", "size": 99999999999999999}',
        b'{"filename": "a.svs", "size": 10, "content_type": "no type"}',
        b'{"filename": "a.svs", "size": 10, "content_type": 7}',
    ],
)
def test_bad_body_is_422(tmp_path: Path, body: bytes) -> None:
    # the body is refused before S3 is asked: no moto needed
    with app_client(tmp_path, ROOT) as client:
        response = client.post(
            "/upload/presigned", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"title", "details"}


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("slide.svs", "slide.svs"),
        ("../../etc/passwd", "passwd"),
        ("C:\\data\\a b.ndpi", "a_b.ndpi"),
        ("café.tif", "cafe.tif"),
        ("...", "upload"),
        ("/", "upload"),
        (".hidden.mrxs", "hidden.mrxs"),
        ("x" * 300 + ".ome.tiff", "x" * 195 + ".tiff"),
    ],
)
def test_safe_filename(given: str, safe: str) -> None:
    assert presigned.safe_filename(given) == safe


def test_part_size_keeps_the_answer_small() -> None:
    assert presigned.part_size_for(1) == presigned.PART_SIZE
    size = 100 * 1024**3  # 100 GiB: 1,000 parts at most
    assert -(-size // presigned.part_size_for(size)) <= presigned.MAX_URL_PARTS
