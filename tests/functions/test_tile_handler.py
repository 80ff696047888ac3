"""The tile function (functions/tile/app.py): the Starlette app in Mangum, fed the recorded
API Gateway REST event, over a local images root (the S3 path is in test_e2e_moto.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.functions.support import (
    LambdaContext,
    load_event,
    load_handler,
    response_header,
    synthetic_jpeg,
    tile_event,
)


@pytest.fixture
def image_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A local images root with one deployed 700x600 JPEG; CYTOTILE_ROOT points at it."""
    from cytotile.importer.flow import import_file
    from cytotile.settings import ImportSettings
    from cytotile.storage import LocalStorage

    source = tmp_path / "tissue.jpg"
    source.write_bytes(synthetic_jpeg())
    root = tmp_path / "images"
    manifest = import_file(LocalStorage(root), source, settings=ImportSettings(timeout_s=120))
    assert manifest.status.value == "DEPLOYED", manifest.reason
    monkeypatch.setenv("CYTOTILE_ROOT", str(root))
    return root, manifest.id


def test_import_reads_no_environment_and_opens_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from cytotile.storage import s3

    def no_client() -> Any:
        raise AssertionError("an S3 client was created at import")

    monkeypatch.setattr(s3, "_client", no_client)
    monkeypatch.setenv("CYTOTILE_ROOT", "s3://images-bucket")
    module = load_handler("tile")
    assert module._handler == []


def test_normalized_tile(image_root: tuple[Path, str], lambda_context: LambdaContext) -> None:
    _, upload_id = image_root
    handler = load_handler("tile").handler
    response = handler(tile_event(upload_id, 2, 3), lambda_context)
    assert response["statusCode"] == 200, response["body"]
    assert response["isBase64Encoded"] is True
    assert response_header(response, "content-type") == "image/jpeg"
    body = base64.b64decode(response["body"])
    assert body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"
    etag = response_header(response, "etag")
    assert etag and etag.startswith('"')
    cache = response_header(response, "cache-control") or ""
    assert "public" in cache and "s-maxage" in cache

    again = handler(tile_event(upload_id, 2, 3, headers={"If-None-Match": etag}), lambda_context)
    assert again["statusCode"] == 304
    assert again["body"] == ""
    assert response_header(again, "etag") == etag


def test_accept_decides_without_extension(
    image_root: tuple[Path, str], lambda_context: LambdaContext
) -> None:
    _, upload_id = image_root
    event = tile_event(upload_id, 0, 0)
    event["path"] = event["path"].removesuffix(".jpg")
    event["pathParameters"]["proxy"] = event["pathParameters"]["proxy"].removesuffix(".jpg")
    event["requestContext"]["path"] = event["requestContext"]["path"].removesuffix(".jpg")
    event["headers"]["Accept"] = event["multiValueHeaders"]["Accept"][0] = "image/png"
    response = load_handler("tile").handler(event, lambda_context)
    assert response["statusCode"] == 200
    assert response_header(response, "content-type") == "image/png"
    assert base64.b64decode(response["body"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_routes_and_errors(
    image_root: tuple[Path, str], lambda_context: LambdaContext
) -> None:
    handler = load_handler("tile").handler
    event = load_event("apigw_rest_normalized_tile.json")
    event.update(path="/info")
    event["pathParameters"] = {"proxy": "info"}
    response = handler(event, lambda_context)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert isinstance(json.loads(response["body"]), dict)

    missing = handler(tile_event("upload-0000", 0, 0), lambda_context)
    assert missing["statusCode"] == 404
    assert set(json.loads(missing["body"])) >= {"title", "details"}

    _, upload_id = image_root
    out_of_range = handler(tile_event(upload_id, 2, 999), lambda_context)
    assert out_of_range["statusCode"] in (400, 404, 422)
    assert set(json.loads(out_of_range["body"])) >= {"title", "details"}
