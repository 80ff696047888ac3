"""The annotation function (functions/annotation/app.py): the app behind Mangum, fed a recorded
API Gateway REST event of Cytomine's crop call (a PIMS route of its own resource), and the same
request under /annotation-api/, over a local images root."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
import pyvips

from tests.functions.support import (
    IMAGES_BUCKET,
    Cloud,
    LambdaContext,
    load_event,
    load_handler,
    response_header,
)
from tests.helpers.deployed import Deployed, deploy, rgb_source

# level-0 box (100, 100)-(300, 200) given in Cytomine's y-up coordinates (image height 777)
WKT = "POLYGON ((100 677, 300 677, 300 577, 100 577, 100 677))"


@pytest.fixture
def image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    from cytotile.storage.local import LocalStorage

    monkeypatch.setenv("CYTOTILE_ROOT", str(tmp_path))
    return deploy(LocalStorage(tmp_path), rgb_source(), "slide.svs")


def crop_event(image: Deployed) -> dict[str, Any]:
    upload, name = image.path.split("/")
    text = (Path(__file__).parents[1] / "events" / "apigw_rest_annotation_crop.json").read_text()
    text = text.replace("__UPLOAD__", upload).replace("__NAME__", name).replace("__WKT__", WKT)
    event: dict[str, Any] = json.loads(text)
    return event


def decoded(response: dict[str, Any]) -> np.ndarray:
    assert response["statusCode"] == 200, response["body"]
    assert response["isBase64Encoded"] is True
    return pyvips.Image.new_from_buffer(base64.b64decode(response["body"]), "").numpy()


def test_cytomine_crop(image: Deployed, lambda_context: LambdaContext) -> None:
    handler = load_handler("annotation").handler
    response = handler(crop_event(image), lambda_context)
    assert response_header(response, "content-type") == "image/png"
    crop = decoded(response)
    assert crop.shape == (129, 256, 4)  # 200x100 grown by 1.25 (250x126 pixels), length 256
    alpha = crop[..., 3]
    assert alpha[64, 128] == 255 and alpha[2, 2] == 0  # inside; the context outside is clear
    area = 200 * 100 * (256 / 250) ** 2
    assert abs((alpha > 0).sum() - area) / area < 0.01
    etag = response_header(response, "etag")
    again = copy.deepcopy(crop_event(image))
    again["headers"]["If-None-Match"] = f"W/{etag}"
    again["multiValueHeaders"]["If-None-Match"] = [f"W/{etag}"]
    assert handler(again, lambda_context)["statusCode"] == 304


def test_under_its_prefix_and_errors(image: Deployed, lambda_context: LambdaContext) -> None:
    handler = load_handler("annotation").handler
    event = crop_event(image)
    path = f"/annotation-api/image/{image.path}/annotation/crop.webp"
    event.update(path=path, resource="/annotation-api/{proxy+}")
    event["pathParameters"] = {"proxy": path.removeprefix("/annotation-api/")}
    response = handler(event, lambda_context)
    assert response_header(response, "content-type") == "image/webp"
    assert decoded(response).shape == (129, 256, 4)

    bad = crop_event(image)
    bad["body"] = bad["body"].replace(WKT, "POLYGON ((1 2, 3")
    response = handler(bad, lambda_context)
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["title"] == "Invalid geometry"


def test_import_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CYTOTILE_ROOT", raising=False)
    assert load_handler("annotation")._handler == []


def test_recorded_event_is_api_gateway_rest() -> None:
    event = load_event("apigw_rest_annotation_crop.json")
    assert event["requestContext"]["resourcePath"] == event["resource"]
    assert json.loads(event["body"])["annotations"][0]["geometry"] == "__WKT__"


def test_on_moto_s3(cloud: Cloud, tmp_path: Path, lambda_context: LambdaContext) -> None:
    """Cytomine's crop through the annotation function, its window with a drawing and its
    export through the tile function, the images on (moto) S3."""
    from cytotile.storage.local import LocalStorage

    local = tmp_path / "local"
    image = deploy(LocalStorage(local), rgb_source(), "slide.svs")
    for path in local.rglob("*"):
        if path.is_file():
            cloud.s3.put_object(
                Bucket=IMAGES_BUCKET, Key=str(path.relative_to(local)), Body=path.read_bytes()
            )
    crop = load_handler("annotation").handler(crop_event(image), lambda_context)
    assert decoded(crop)[..., 3].max() == 255

    tile = load_handler("tile").handler
    window = crop_event(image)
    window.update(path=f"/image/{image.path}/window", resource="/{proxy+}")
    window["pathParameters"] = {"proxy": f"image/{image.path}/window"}
    body = {"region": {"left": 0, "top": 0, "width": 512, "height": 512}, "level": 0,
            "annotations": [{"geometry": WKT, "stroke_color": "#000", "stroke_width": 1}],
            "annotation_style": {"mode": "DRAWING"}}  # fmt: skip
    window["body"] = json.dumps(body)
    drawn = decoded(tile(window, lambda_context))
    assert drawn.shape == (512, 512, 3) and (drawn[99, 150:250] == 0).all()  # the box's top edge

    export = load_event("apigw_rest_normalized_tile.json")
    export.update(path=f"/ims/image/{image.path}/export")
    export["pathParameters"] = {"proxy": f"ims/image/{image.path}/export"}
    export["queryStringParameters"] = {"filename": "orig.svs"}
    export["multiValueQueryStringParameters"] = {"filename": ["orig.svs"]}
    response = tile(export, lambda_context)
    assert response["statusCode"] == 307
    location = response_header(response, "location") or ""
    assert IMAGES_BUCKET in location and "Signature=" in location and "Expires" in location
    assert "orig.svs" in location and quote(image.path.split("/")[0]) in location
