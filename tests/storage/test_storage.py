"""One suite for both storage backends: a local folder and S3 (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from cytotile.errors import BadPath, NotFound
from cytotile.storage import open_storage
from cytotile.storage.base import Storage, safe_key
from cytotile.storage.local import LocalStorage
from cytotile.storage.s3 import S3Storage


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path)
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="images")
        yield S3Storage("images", "some/prefix", client=client)


def test_write_read_ranges(storage: Storage, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    storage.write_bytes("upload-1/a.bin", data)
    assert storage.exists("upload-1/a.bin")
    assert storage.size("upload-1/a.bin") == len(data)
    assert storage.read("upload-1/a.bin") == data
    assert storage.read_range("upload-1/a.bin", 100, 50) == data[100:150]
    assert storage.read_range("upload-1/a.bin", len(data) - 5, 50) == data[-5:]
    assert storage.etag("upload-1/a.bin")


def test_files_and_listing(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 5000)
    storage.upload_file("upload-2/processed/p.tif", src)
    storage.write_bytes("upload-2/manifest.json", b"{}")
    storage.write_bytes("upload-3/other", b"1")
    assert sorted(storage.list("upload-2")) == [
        "upload-2/manifest.json",
        "upload-2/processed/p.tif",
    ]
    assert storage.list_uploads() == ["upload-2"]
    out = tmp_path / "out.bin"
    storage.download_file("upload-2/processed/p.tif", out)
    assert out.read_bytes() == src.read_bytes()
    assert storage.delete_prefix("upload-2/processed") == 1
    assert not storage.exists("upload-2/processed/p.tif")


def test_missing(storage: Storage) -> None:
    assert not storage.exists("upload-9/nothing")
    with pytest.raises(NotFound):
        storage.read("upload-9/nothing")
    with pytest.raises(NotFound):
        storage.read_range("upload-9/nothing", 0, 10)
    with pytest.raises(NotFound):
        storage.size("upload-9/nothing")


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "/etc/passwd",
        "a/../../b",
        "%2e%2e/x",
        "%252e%252e/x",
        "a\\..\\b",
        "",
        "a\x00b",
    ],
)
def test_paths_that_leave_the_root_are_refused(storage: Storage, bad: str) -> None:
    with pytest.raises(BadPath):
        storage.read(bad)


@given(st.lists(st.sampled_from(["a", "..", ".", "", "%2e%2e", "%2F", "b c", "é"]), max_size=6))
def test_safe_key_never_escapes(parts: list[str]) -> None:
    try:
        key = safe_key("/".join(parts))
    except BadPath:
        return
    assert not key.startswith("/")
    assert ".." not in key.split("/")


def test_open_storage(tmp_path: Path) -> None:
    assert isinstance(open_storage(str(tmp_path)), LocalStorage)
    with mock_aws():
        s3 = open_storage("s3://bucket/pre/fix")
        assert isinstance(s3, S3Storage) and s3.bucket == "bucket" and s3.prefix == "pre/fix"
