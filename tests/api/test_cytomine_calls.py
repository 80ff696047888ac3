"""Cytomine core's calls to its PIMS (ImageServerService), replayed as the core sends them:
under the ``/ims`` base path, bodies with nulls, Accept choosing the format, LEFT_BOTTOM
annotations, weak ETags. Every answer is checked for its type and a few pixels."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from tests.api.conftest import Images, decode
from tests.helpers.deployed import Deployed, deploy, rgb_source

CORE = {"Content-Type": "application/json", "X-Annotation-Origin": "LEFT_BOTTOM"}


def box(height: int, left: int, top: int, right: int, bottom: int) -> str:
    """A level-0 box (y down) given in Cytomine's y-up coordinates."""
    up = [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]
    return "POLYGON((" + ",".join(f"{x} {height - y}" for x, y in up) + "))"


CORE_TILE_QUERY = (
    "channels=0,1&z_slices=0&timepoints=0&gammas=1,1&colormaps=DEFAULT,!FF0000"
    "&min_intensities=0,0&max_intensities=255,4095"
)


def test_tile_thumb_associated_under_ims(client: TestClient, images: Images) -> None:
    query = CORE_TILE_QUERY  # exactly as the core sends it (a bare inverted hex colormap)
    url = f"/ims/image/{images.multi.path}/normalized-tile/zoom/0/tx/0/ty/0?{query}"
    tile = client.get(url, headers={"Accept": "image/webp"})
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/webp"
    again = client.get(
        url, headers={"Accept": "image/webp", "If-None-Match": f"W/{tile.headers['etag']}"}
    )
    assert again.status_code == 304
    assert (
        client.get(url.removeprefix("/ims"), headers={"Accept": "image/webp"}).content
        == tile.content
    )
    thumb = client.get(f"/ims/image/{images.rgb.path}/thumb?z_slices=0&timepoints=0&length=512")
    assert thumb.status_code == 200 and max(decode(thumb.content).shape[:2]) == 512
    macro = client.get(f"/ims/image/{images.rgb.path}/associated/macro?length=256")
    assert macro.status_code == 200 and max(decode(macro.content).shape[:2]) == 256
    bounds = client.get(
        f"/ims/image/{images.multi.path}/histogram/per-plane/z/0/t/0/bounds?channels=1"
    )
    assert bounds.status_code == 200 and bounds.headers["content-type"] == "application/json"
    (item,) = bounds.json()["items"]  # channel 1 only, of the plane z=0, t=0
    assert (item["channel"], item["z_slice"], item["timepoint"]) == (1, 0, 0)
    assert item["minimum"] <= item["maximum"]


@pytest.fixture(scope="module")
def large(images: Images) -> Deployed:
    """Larger than the core's 1024x1024 window."""
    return deploy(images.storage, rgb_source(1100, 1060, seed=4), "large.svs")


def test_window_with_drawing(client: TestClient, images: Images, large: Deployed) -> None:
    body = {
        "region": {"left": 0, "top": 0, "width": 1024, "height": 1024},
        "z_slices": 0, "timepoints": 0, "level": 0, "gammas": None, "length": None,
        "annotations": [
            {"geometry": box(1060, 100, 200, 300, 300), "stroke_color": "#000", "stroke_width": 1}
        ],
        "annotation_style": {"mode": "DRAWING"},
    }  # fmt: skip
    headers = {**CORE, "Accept": "image/png", "X-Image-Size-Safety": "SAFE_RESIZE"}
    response = client.post(f"/ims/image/{large.path}/window", json=body, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    out = decode(response.content)
    assert out.shape == (1024, 1024, 3)
    # the box spans rows 200-300 (y down): 1-pixel edges on rows 199 and 299
    assert (out[199, 150:250] == 0).all() and (out[299, 150:250] == 0).all()
    assert (out[197, 150:250] != 0).any() and (out[250, 150:250] != 0).any()


def test_window_region_out_of_bounds_is_refused(client: TestClient, images: Images) -> None:
    body = {"region": {"left": 0, "top": 0, "width": 5000, "height": 100}, "annotations": []}
    response = client.post(f"/ims/image/{images.rgb.path}/window", json=body, headers=CORE)
    assert response.status_code == 400


def test_crop_mask_drawing(client: TestClient, images: Images) -> None:
    geometry = box(images.rgb.manifest.image["height"], 200, 100, 400, 300)  # type: ignore[index]
    path = f"/ims/image/{images.rgb.path}/annotation"
    crop = client.post(
        f"{path}/crop",
        json={"annotations": [{"geometry": geometry}], "length": 256, "context_factor": 1.25,
              "background_transparency": 0, "z_slices": 0, "timepoints": 0, "gammas": None},
        headers={**CORE, "Accept": "image/jpeg"},
    )  # fmt: skip
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    assert decode(crop.content).shape == (256, 256, 3)
    mask = client.post(
        f"{path}/mask",
        json={"annotations": [{"geometry": geometry, "fill_color": "#fff"}], "length": 256},
        headers={**CORE, "Accept": "image/png"},
    )
    pixels = decode(mask.content)
    assert pixels.shape == (256, 256, 1) and (pixels > 0).all()  # the envelope is the box
    drawing = client.post(
        f"{path}/drawing",
        json={"annotations": [{"geometry": geometry, "stroke_color": "#ff0000", "stroke_width": 2}],
              "try_square": True, "context_factor": None},
        headers={**CORE, "Accept": "image/png"},
    )  # fmt: skip
    out = decode(drawing.content)
    red = (out[..., 0] == 255) & (out[..., 1] == 0) & (out[..., 2] == 0)
    assert out.shape == (200, 200, 3) and red[0].all() and red[:, 0].all() and not red[100, 100]


def test_exports(client: TestClient, images: Images) -> None:
    original = (images.root / images.rgb.path).read_bytes()
    image = client.get(f"/ims/image/{images.rgb.path}/export?filename=orig.svs")
    assert image.status_code == 200 and image.content == original
    assert 'filename="orig.svs"' in image.headers["content-disposition"]
    file = client.get(f"/ims/file/{images.rgb.upload_id}/export?filename=orig.zip")
    assert file.status_code == 200 and file.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(file.content)) as archive:
        assert archive.read(images.rgb.path.split("/", 1)[1]) == original


def test_base_path_is_configurable(images: Images) -> None:
    settings = ServerSettings(root=str(images.root), api_base_path="/pims/")
    with TestClient(create_app(settings, images.storage)) as other:
        assert other.get(f"/pims/image/{images.rgb.path}/info").status_code == 200
        assert other.get(f"/image/{images.rgb.path}/info").status_code == 200
        assert other.get(f"/ims/image/{images.rgb.path}/info").status_code == 404
    settings = ServerSettings(root=str(images.root), api_base_path="")
    with TestClient(create_app(settings, images.storage)) as plain:
        assert plain.get(f"/ims/image/{images.rgb.path}/info").status_code == 404
        assert np.asarray(plain.get("/info").status_code) == 200
