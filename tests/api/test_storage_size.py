"""``GET /storage/size.json`` (IMS v1) and ``GET /disk-usage`` (PIMS v2): local storage from its
file system, S3 (moto) from its objects."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage


def local_client(root: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(root=str(root)), LocalStorage(root)))


def test_local_size_is_the_file_system_of_the_root(tmp_path: Path) -> None:
    (tmp_path / "upload-a" / "processed").mkdir(parents=True)
    (tmp_path / "upload-a" / "slide.svs").write_bytes(b"x" * 3000)
    (tmp_path / "upload-a" / "processed" / "p.tif").write_bytes(b"y" * 500)
    with local_client(tmp_path) as client:
        for path in ("/storage/size.json", "/ims/storage/size.json"):
            response = client.get(path)
            assert response.status_code == 200
            assert response.headers["cache-control"] == "no-store"
            body = response.json()
            disk = shutil.disk_usage(tmp_path)
            assert body["total"] == disk.total
            assert abs(body["available"] - disk.free) < 64 * 2**20  # others write meanwhile
            assert abs(body["used"] - disk.used) < 64 * 2**20
            assert body["usedP"] == pytest.approx(body["used"] / body["total"])
            assert 0 <= body["usedP"] <= 1
            assert body["hostname"] is body["mount"] is body["ip"] is None  # never shown
        usage = client.get("/disk-usage").json()
    assert usage["used_size"] == 3500
    assert usage["mount"] is None
    assert usage["mount_total_size"] == shutil.disk_usage(tmp_path).total
    assert usage["used_size_percentage"] == pytest.approx(100 * 3500 / usage["mount_total_size"])
    assert 0 <= usage["mount_used_size_percentage"] <= 100


@mock_aws
def test_s3_size_counts_the_objects_under_the_root() -> None:
    from cytotile.storage.s3 import S3Storage

    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="images")
    for i in range(3):
        client.put_object(Bucket="images", Key=f"root/upload-{i}/f.bin", Body=b"z" * (100 + i))
    client.put_object(Bucket="images", Key="elsewhere/f.bin", Body=b"w" * 10_000)  # not ours
    storage = S3Storage("images", "root", client=client)
    app = create_app(ServerSettings(root="s3://images/root"), storage)
    with TestClient(app) as http:
        body = http.get("/storage/size.json").json()
        usage = http.get("/disk-usage").json()
    assert body["used"] == 303
    assert body["available"] is body["total"] is body["usedP"] is None  # S3 has no capacity
    assert usage["used_size"] == 303
    assert usage["mount_total_size"] is usage["used_size_percentage"] is None


def test_the_routes_are_described(tmp_path: Path) -> None:
    with local_client(tmp_path) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert "used" in paths["/storage/size.json"]["get"]["description"]
    assert "S3" in paths["/disk-usage"]["get"]["description"]
