"""GET /image/{path}/export and GET /file/{path}/export: byte-identical originals, ranges,
Content-Disposition, zips of folders, and on S3 a presigned redirect that works."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.manifest import FileEntry, Manifest
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.deployed import Deployed, deploy, grey_source
from tests.helpers.motoserver import moto_s3_server

ORIGINAL = np.random.default_rng(7).integers(0, 256, 300_000, dtype=np.uint8).tobytes()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[TestClient, Deployed]]:
    storage = LocalStorage(tmp_path)
    image = deploy(storage, grey_source(), "Slide, été (1).svs")
    storage.write_bytes(image.path, ORIGINAL)  # the upload as uploaded
    with TestClient(create_app(ServerSettings(root=str(tmp_path)), storage)) as client:
        yield client, image


def test_image_export_is_the_upload(local: tuple[TestClient, Deployed]) -> None:
    client, image = local
    response = client.get(f"/image/{image.path}/export")
    assert response.status_code == 200 and response.content == ORIGINAL
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Slide, _t_ (1).svs"')
    assert "filename*=UTF-8''Slide%2C%20%C3%A9t%C3%A9%20%281%29.svs" in disposition
    named = client.get(f"/image/{image.path}/export?filename=orig,1.svs")
    assert 'filename="orig,1.svs"' in named.headers["content-disposition"]
    assert named.headers["cache-control"] == "no-store"


def test_ranges_and_head(local: tuple[TestClient, Deployed]) -> None:
    client, image = local
    part = client.get(f"/image/{image.path}/export", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == ORIGINAL[1000:2000]
    head = client.head(f"/file/{image.path}/export")
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(ORIGINAL)


def test_representations(local: tuple[TestClient, Deployed], tmp_path: Path) -> None:
    client, image = local
    spatial = client.get(f"/image/{image.path}/export?representation=spatial")
    pyramid = (tmp_path / image.upload_id / "processed/visualisation.PYRTIFF").read_bytes()
    assert spatial.status_code == 200 and spatial.content == pyramid
    assert 'filename="visualisation.PYRTIFF"' in spatial.headers["content-disposition"]
    by_file = client.get(f"/file/{image.upload_id}/processed/visualisation.PYRTIFF/export")
    assert by_file.content == pyramid
    bad = client.get(f"/image/{image.path}/export?representation=THUMB")
    assert bad.status_code == 422


def test_upload_folder_as_zip(local: tuple[TestClient, Deployed], tmp_path: Path) -> None:
    client, image = local
    response = client.get(f"/file/{image.upload_id}/export?filename=orig")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert 'filename="orig.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        folder = tmp_path / image.upload_id
        files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
        assert names == files
        for name in names:
            assert archive.read(name) == (folder / name).read_bytes()


def test_multi_file_original_is_zipped(local: tuple[TestClient, Deployed]) -> None:
    client, image = local
    storage = image.storage
    folder = f"{image.upload_id}/processed/original.MRXS"
    members = {
        "slide.mrxs": b"[GENERAL]",
        "slide/Data0000.dat": ORIGINAL[:5000],
        "slide/Index.dat": b"x",
    }
    for name, data in members.items():
        storage.write_bytes(f"{folder}/{name}", data)
    manifest = Manifest.load(storage, image.upload_id)
    manifest.files = [f for f in manifest.files if f.role != "ORIGINAL"]
    manifest.files.append(FileEntry("ORIGINAL", folder, None, "MRXS", is_reference=False))
    manifest.save(storage)
    response = client.get(f"/image/{image.path}/export?representation=ORIGINAL")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == members


def test_refusals(local: tuple[TestClient, Deployed]) -> None:
    client, image = local
    assert client.get(f"/file/{image.upload_id}/manifest.json/export").status_code == 422
    assert client.get(f"/file/{image.upload_id}/nothing/export").status_code == 404
    assert client.get("/image/upload-missing/x.svs/export").status_code == 404
    assert client.get("/file/../etc/passwd/export").status_code in (400, 404)


BUCKET = "images-export"


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_s3_server(monkeypatch, BUCKET, "uploads-elsewhere") as client:
        yield client


def test_s3_presigned_redirect(s3_server: Any) -> None:
    from cytotile.storage.s3 import S3Storage

    storage = S3Storage(BUCKET, "root", client=s3_server)
    uid = "upload-0123"
    s3_server.put_object(Bucket="uploads-elsewhere", Key="incoming/a b.svs", Body=ORIGINAL)
    storage.write_bytes(f"{uid}/processed/visualisation.PYRTIFF", ORIGINAL[::-1])
    reference = "s3://uploads-elsewhere/incoming/a b.svs"
    manifest = Manifest(uid, "a b.svs", files=[
        FileEntry("UPLOAD", reference, len(ORIGINAL), is_reference=True),
        FileEntry("SPATIAL", f"{uid}/processed/visualisation.PYRTIFF", len(ORIGINAL)),
    ])  # fmt: skip
    manifest.save(storage)
    client = TestClient(create_app(ServerSettings(root=f"s3://{BUCKET}/root"), storage))
    for url, expected in (
        (f"/image/{uid}/a b.svs/export?filename=orig.svs", ORIGINAL),
        (f"/file/{uid}/processed/visualisation.PYRTIFF/export", ORIGINAL[::-1]),
    ):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 307 and response.headers["cache-control"] == "no-store"
        fetched = httpx.get(response.headers["location"])
        assert fetched.status_code == 200 and fetched.content == expected
        ranged = httpx.get(response.headers["location"], headers={"Range": "bytes=5-9"})
        assert ranged.status_code == 206 and ranged.content == expected[5:10]
    named = client.get(f"/image/{uid}/a b.svs/export?filename=orig.svs", follow_redirects=False)
    download = httpx.get(named.headers["location"])
    assert 'filename="orig.svs"' in download.headers["content-disposition"]


def test_zip_on_lambda_is_bounded(
    local: tuple[TestClient, Deployed], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytotile.api import exports

    client, image = local
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "cytotile-TileFunction")
    monkeypatch.setattr(exports, "LAMBDA_RESPONSE_LIMIT", 100_000)
    response = client.get(f"/file/{image.upload_id}/export")
    assert response.status_code == 400 and "one by one" in response.json()["details"]
    assert client.get(f"/image/{image.path}/export").content == ORIGINAL  # a file still is
