"""Issue 9's replay through the Lambda handlers, the images on (moto) S3: every call of
Cytomine core's ImageServerService listed in the issue, as API Gateway REST events, to the tile
function (everything under /ims, as the core calls it) and to the annotation function (its own
resources, without the prefix). Each answer: its status and type, and its pixels (a mask's area
is the polygon's at that scale within 1%, a crop is transparent outside the polygon, a drawing's
stroke lies on the geometry, LEFT_BOTTOM flips y)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvips
from shapely import wkt as shapely_wkt

from tests.functions.support import (
    EVENTS,
    IMAGES_BUCKET,
    Cloud,
    LambdaContext,
    load_handler,
    response_header,
)
from tests.helpers.deployed import Deployed, deploy, rgb_source

HEIGHT = 777  # rgb_source's
# a triangle, level 0, in Cytomine's y-up coordinates: (200, 100), (400, 100), (200, 300) y down
TRIANGLE = (
    f"POLYGON((200 {HEIGHT - 100}, 400 {HEIGHT - 100}, 200 {HEIGHT - 300}, 200 {HEIGHT - 100}))"
)
CORE = {"Content-Type": "application/json", "X-Annotation-Origin": "LEFT_BOTTOM"}


def event(method: str, path: str, query: str = "", headers: dict[str, str] | None = None,
          body: Any = None) -> dict[str, Any]:  # fmt: skip
    """The recorded API Gateway REST event, as another request."""
    recorded: dict[str, Any] = json.loads((EVENTS / "apigw_rest_normalized_tile.json").read_text())
    recorded.update(httpMethod=method, path=path, resource="/{proxy+}", isBase64Encoded=False)
    recorded["pathParameters"] = {"proxy": path.lstrip("/")}
    pairs = [p.split("=", 1) for p in query.split("&") if p]
    recorded["queryStringParameters"] = {k: v for k, v in pairs} or None
    recorded["multiValueQueryStringParameters"] = {k: [v] for k, v in pairs} or None
    for name, value in (headers or {}).items():
        recorded["headers"][name] = value
        recorded["multiValueHeaders"][name] = [value]
    recorded["body"] = json.dumps(body) if body is not None else None
    return recorded


def pixels(response: dict[str, Any], media_type: str) -> np.ndarray:
    assert response["statusCode"] == 200, response["body"]
    assert response_header(response, "content-type") == media_type
    data = base64.b64decode(response["body"]) if response["isBase64Encoded"] else b""
    image = pyvips.Image.new_from_buffer(data, "")
    return image.numpy().reshape(image.height, image.width, image.bands)


@pytest.fixture
def image(cloud: Cloud, tmp_path: Path) -> Deployed:
    from cytotile.storage.local import LocalStorage

    local = tmp_path / "local"
    deployed = deploy(LocalStorage(local), rgb_source(), "CMU-1.svs")
    for path in local.rglob("*"):
        if path.is_file():
            key = str(path.relative_to(local))
            cloud.s3.put_object(Bucket=IMAGES_BUCKET, Key=key, Body=path.read_bytes())
    return deployed


def test_the_cores_calls_through_the_handlers(
    image: Deployed, lambda_context: LambdaContext
) -> None:
    tile_fn = load_handler("tile").handler
    base = f"/ims/image/{image.path}"

    def tile(*args: Any, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = tile_fn(event(*args, **kwargs), lambda_context)
        return answer

    query = ("channels=0,1&z_slices=0&timepoints=0&gammas=1,1&colormaps=DEFAULT,!FF0000"
             "&min_intensities=0,0&max_intensities=255,4095")  # fmt: skip
    webp = tile("GET", f"{base}/normalized-tile/zoom/0/tx/0/ty/0", query, {"Accept": "image/webp"})
    assert pixels(webp, "image/webp").shape[:2] == (195, 251)  # zoom 0: the whole 1001x777
    etag = response_header(webp, "etag")
    again = tile("GET", f"{base}/normalized-tile/zoom/0/tx/0/ty/0", query,
                 {"Accept": "image/webp", "If-None-Match": f"W/{etag}"})  # fmt: skip
    assert again["statusCode"] == 304
    thumb = pixels(tile("GET", f"{base}/thumb", "z_slices=0&timepoints=0&length=512"), "image/jpeg")
    assert max(thumb.shape[:2]) == 512
    macro = pixels(tile("GET", f"{base}/associated/macro", "length=256"), "image/jpeg")
    assert max(macro.shape[:2]) == 256
    bounds = tile("GET", f"{base}/histogram/per-plane/z/0/t/0/bounds", "channels=1")
    assert bounds["statusCode"] == 200 and "json" in (response_header(bounds, "content-type") or "")

    body = {"region": {"left": 0, "top": 0, "width": 512, "height": 512}, "z_slices": 0,
            "timepoints": 0, "level": 0,
            "annotations": [{"geometry": TRIANGLE, "stroke_color": "#000", "stroke_width": 1}],
            "annotation_style": {"mode": "DRAWING"}}  # fmt: skip
    headers = {**CORE, "Accept": "image/png", "X-Image-Size-Safety": "SAFE_RESIZE"}
    window = pixels(tile("POST", f"{base}/window", headers=headers, body=body), "image/png")
    # LEFT_BOTTOM flipped: the triangle's top edge is row 100 (y down), not row 677
    assert (window[99, 210:390] == 0).all() and (window[99, 410:500] != 0).any()

    exported = tile("GET", f"{base}/export", "filename=orig.svs")
    assert exported["statusCode"] == 307
    assert "orig.svs" in (response_header(exported, "location") or "")
    folder = tile("GET", f"/ims/file/{image.upload_id}/export", "filename=orig.zip")
    assert folder["statusCode"] == 200, folder["body"]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(folder["body"]))) as archive:
        assert archive.read(image.path.split("/", 1)[1]) == image.storage.read(image.path)


@pytest.mark.parametrize("function", ["tile", "annotation"])
def test_crop_mask_drawing(image: Deployed, lambda_context: LambdaContext, function: str) -> None:
    handler = load_handler(function).handler
    prefix = "/ims" if function == "tile" else ""  # the annotation function's own resources
    base = f"{prefix}/image/{image.path}/annotation"
    triangle = shapely_wkt.loads(TRIANGLE)
    png = {**CORE, "Accept": "image/png"}

    def post(kind: str, body: dict[str, Any]) -> np.ndarray:
        return pixels(handler(event("POST", f"{base}/{kind}", headers=png, body=body),
                              lambda_context), "image/png")  # fmt: skip

    mask = post("mask", {"annotations": [{"geometry": TRIANGLE, "fill_color": "#fff"}],
                         "length": 256})  # fmt: skip
    assert mask.shape[:2] == (256, 256)  # the 200x200 envelope at 256/200
    scale = 256 / 200
    filled = int((mask[..., 0] > 0).sum())
    assert abs(filled - triangle.area * scale**2) <= 0.01 * triangle.area * scale**2
    assert mask[10, 10, 0] > 0 and mask[245, 245, 0] == 0  # y flipped: the right angle top left

    crop = post("crop", {"annotations": [{"geometry": TRIANGLE}], "length": 256,
                         "context_factor": 1.25, "background_transparency": 100})  # fmt: skip
    assert crop.shape[2] == 4
    alpha = crop[..., 3]
    side = crop.shape[0]
    assert alpha[side // 2 - 20, side // 2 - 20] == 255 and alpha[side - 20, side - 20] == 0
    opaque = pixels(handler(event("POST", f"{base}/crop", headers=png, body={
        "annotations": [{"geometry": TRIANGLE}], "length": 256, "context_factor": 1.25,
        "background_transparency": 0}), lambda_context), "image/png")  # fmt: skip
    assert opaque.shape[2] == 3 or (opaque[..., 3] == 255).all()  # the call: background

    stroke = {"geometry": TRIANGLE, "stroke_color": "#ff0000", "stroke_width": 2}
    drawing = post("drawing", {"annotations": [stroke], "try_square": True})
    red = (drawing[..., 0] == 255) & (drawing[..., 1] == 0) & (drawing[..., 2] == 0)
    assert red[0, 5:190].all() and red[5:190, 0].all()  # the two legs, on the envelope's edges
    ys, xs = np.nonzero(red)
    # every red pixel lies on the triangle's contour (within the stroke's width)
    contour = shapely_wkt.loads("POLYGON((0 0, 200 0, 0 200, 0 0))").exterior
    from shapely.geometry import Point

    assert (
        max(contour.distance(Point(x + 0.5, y + 0.5)) for y, x in zip(ys, xs, strict=True)) <= 2.0
    )


def test_the_cores_upload_through_the_handlers(
    cloud: Cloud, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list's last call, ``POST /ims/upload?idStorage=12&idProject=34,35&keys=k1,k2&values=
    v1,v2`` (multipart files[]), signed by a core's user, to the function the template routes it
    to (UploadFunction: the same app, an S3 upload root); then the import function on the
    object's notification registers the image in the (fake) core, and the tile function serves
    it at the path the core's UploadedFile names."""
    from tests.functions.cytomine_upload import configure, import_written, upload, upload_event
    from tests.helpers.fake_core import running

    with running() as core:
        configure(monkeypatch, core)
        answer = upload(upload_event(), lambda_context)
        assert answer["statusCode"] == 200, answer["body"]
        assert "json" in (response_header(answer, "content-type") or "")
        (item,) = json.loads(answer["body"])
        uploaded = item["uploadedFile"]
        assert uploaded["filename"] == item["path"] == f"{item['id']}/small.png"
        key = f"incoming/{item['path']}"
        assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
        assert core.objects["uploadedfile"][uploaded["id"]]["status"] == 100  # DEPLOYED
        assert [c["body"]["project"] for c in core.of("POST", r"imageinstance\.json")] == [34, 35]
    tile_fn = load_handler("tile").handler
    tile = tile_fn(event("GET", f"/ims/image/{uploaded['filename']}/normalized-tile/zoom/0/ti/0",
                         headers={"Accept": "image/webp"}), lambda_context)  # fmt: skip
    assert pixels(tile, "image/webp").shape[:2] == (100, 150)  # zoom 0: 300x200 halved
