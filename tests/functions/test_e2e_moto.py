"""End to end on moto S3: an upload lands in the upload bucket, the recorded S3 -> SQS event runs
the import function, and the tile function (Mangum) serves the recorded API Gateway REST
request from the images bucket with byte-range GETs, which are counted."""

from __future__ import annotations

import base64
import io
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from tests.functions.support import (
    IMAGES_BUCKET,
    UPLOAD_BUCKET,
    Cloud,
    LambdaContext,
    load_handler,
    response_header,
    sample,
    synthetic_jpeg,
    tile_event,
)

TILE = 256


@dataclass
class Original:
    key: str
    body: bytes
    #: pixels (height, width, 3) uint8 of a full-resolution region: left, top, width, height
    region: Callable[[int, int, int, int], np.ndarray]


def svs_original() -> Original:
    import openslide

    path = sample("CMU-1-Small-Region.svs")

    def region(left: int, top: int, width: int, height: int) -> np.ndarray:
        with openslide.OpenSlide(str(path)) as slide:
            rgba = slide.read_region((left, top), 0, (width, height))
        return np.asarray(rgba.convert("RGB"))

    # the recorded event's object: a space and a non-ASCII letter in the key
    return Original("incoming/CMU-1 Small Regioné.svs", path.read_bytes(), region)


def jpeg_original() -> Original:
    import pyvips

    body = synthetic_jpeg(1000, 700)

    def region(left: int, top: int, width: int, height: int) -> np.ndarray:
        image = pyvips.Image.new_from_buffer(body, "", fail_on="error")
        return np.asarray(image.crop(left, top, width, height).numpy())

    return Original("incoming/synthetic tissue é.jpg", body, region)


ORIGINALS = {"svs": svs_original, "jpeg": jpeg_original}


def decode(jpeg: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG"
        return np.asarray(image.convert("RGB"))


def busiest_tile(original: Original, width: int, height: int) -> tuple[int, int]:
    """The full-resolution tile with the most texture (the hardest to keep faithful)."""
    pixels = original.region(0, 0, width, height)
    tiles = {
        (tx, ty): float(pixels[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE].std())
        for ty in range(-(-height // TILE))
        for tx in range(-(-width // TILE))
    }
    return max(tiles, key=lambda t: tiles[t])


@pytest.fixture(autouse=True)
def cold_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty the process-wide pyramid and metadata caches, as in a new Lambda instance."""
    from cytotile.pipeline import image
    from cytotile.tiff import reader

    monkeypatch.setattr(reader, "_cache", OrderedDict())
    monkeypatch.setattr(image, "_meta", OrderedDict())


@pytest.mark.parametrize("kind", sorted(ORIGINALS))
def test_upload_import_and_tiles(kind: str, cloud: Cloud, lambda_context: LambdaContext) -> None:
    original = ORIGINALS[kind]()
    event = cloud.put(original.key, original.body)  # the recorded SQS event, key substituted

    # import
    assert load_handler("import").handler(event, lambda_context) == {"batchItemFailures": []}
    (upload_id,) = cloud.uploads()
    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "DEPLOYED", manifest["reason"]
    assert manifest["source"]["ref"] == f"s3://{UPLOAD_BUCKET}/{original.key}"
    full = manifest["pyramid"]["tiers"][0]  # level 0: full resolution, the highest zoom
    assert (full["width"], full["height"]) == (
        manifest["image"]["width"],
        manifest["image"]["height"],
    )

    # a cold tile function: the pyramid's index, then one tile
    tile = load_handler("tile").handler
    cloud.gets.reset()
    tx, ty = busiest_tile(original, full["width"], full["height"])
    first = tile_event(upload_id, full["zoom"], ty * full["n_tx"] + tx)
    response = tile(first, lambda_context)
    cold, cold_calls = cloud.gets.count(IMAGES_BUCKET), list(cloud.gets.calls)
    assert response["statusCode"] == 200, response["body"]
    assert response["isBase64Encoded"] is True
    assert response_header(response, "content-type") == "image/jpeg"
    pixels = decode(base64.b64decode(response["body"]))
    left, top = tx * TILE, ty * TILE
    width, height = min(TILE, full["width"] - left), min(TILE, full["height"] - top)
    assert pixels.shape == (height, width, 3)
    expected = original.region(left, top, width, height)
    diff = float(np.abs(pixels.astype(np.int16) - expected.astype(np.int16)).mean())
    assert 1 <= cold <= 3, cloud.gets.calls  # <= 2 for the index, 1 for the tile
    assert cloud.gets.count(UPLOAD_BUCKET) == 0  # the original is never read to serve
    assert all(rng and rng.startswith("bytes=") for _, _, rng in cloud.gets.calls)

    # warm: another tile (the last one: a partial edge tile) costs exactly one ranged GET
    cloud.gets.reset()
    last = full["n_tx"] * full["n_ty"] - 1
    assert last != ty * full["n_tx"] + tx
    other = tile(tile_event(upload_id, full["zoom"], last), lambda_context)
    warm = cloud.gets.count(IMAGES_BUCKET)
    assert other["statusCode"] == 200
    assert warm == 1, cloud.gets.calls
    edge = decode(base64.b64decode(other["body"]))
    assert edge.shape[:2] == (
        full["height"] - (full["n_ty"] - 1) * TILE,
        full["width"] - (full["n_tx"] - 1) * TILE,
    )

    # revalidation: the first request again with its ETag -> 304, with no GET at all
    etag = response_header(response, "etag")
    assert etag
    assert "If-None-Match" not in first["headers"]  # the recorded request has none
    cloud.gets.reset()
    ti = ty * full["n_tx"] + tx
    again = tile(
        tile_event(upload_id, full["zoom"], ti, headers={"If-None-Match": etag}), lambda_context
    )
    assert again["statusCode"] == 304
    assert response_header(again, "etag") == etag
    assert cloud.gets.count() == 0

    print(f"{kind}: GETs cold={cold} {cold_calls} warm={warm}, mean abs diff={diff:.2f}")
    # fidelity, last so that everything above is checked whatever it says
    assert diff < 3, diff
