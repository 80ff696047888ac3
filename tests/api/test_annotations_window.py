"""POST /image/{path}/window with ``annotations`` and ``annotation_style``."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.api.conftest import Images, decode

TRIANGLE = "POLYGON ((40 40, 200 40, 40 160, 40 40))"  # 9600 pixels at level 0
REGION = {"left": 0, "top": 0, "width": 256, "height": 256}


def window(client: TestClient, path: str, body: dict, ext: str = ".png", **headers: str):
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    response = client.post(f"/image/{path}/window{ext}", json=body, headers=named)
    assert response.status_code == 200, response.text
    return response, decode(response.content)


def test_plain_window_unchanged_by_the_feature(client: TestClient, images: Images) -> None:
    plain, pixels = window(client, images.rgb.path, {"region": REGION})
    drawn, _ = window(client, images.rgb.path, {"region": REGION, "annotations": TRIANGLE})
    assert pixels.shape == (256, 256, 3) and plain.headers["etag"] != drawn.headers["etag"]


@pytest.mark.parametrize("mode", ["MASK", "CROP", "DRAWING"])
def test_modes(client: TestClient, images: Images, mode: str) -> None:
    _, plain = window(client, images.rgb.path, {"region": REGION})
    body = {
        "region": REGION,
        "annotations": [{"geometry": TRIANGLE, "stroke_color": "#0000ff", "fill_color": "#fff"}],
        "annotation_style": {"mode": mode},
    }
    _, out = window(client, images.rgb.path, body)
    if mode == "MASK":
        assert out.shape == (256, 256, 1) and abs((out > 0).sum() - 9600) / 9600 < 0.02
    elif mode == "CROP":
        assert out.shape == (256, 256, 4) and abs((out[..., 3] > 0).sum() - 9600) / 9600 < 0.02
        np.testing.assert_array_equal(out[..., :3][out[..., 3] > 0], plain[out[..., 3] > 0])
    else:
        assert out.shape == (256, 256, 3)
        blue = (out[..., 2] == 255) & (out[..., :2].max(axis=2) == 0)
        assert blue[39, 100] and blue[100, 39] and not blue[100, 100]  # on the edges only
        assert (out[100, 100] == 255).all()  # the fill_color given, under the stroke
        assert (out[200:, 200:] == plain[200:, 200:]).all()  # outside: the image


def test_reference_tier_and_target(client: TestClient, images: Images) -> None:
    """Annotations stay in level-0 coordinates whatever the window's tier and size."""
    body = {
        "region": {"left": 0, "top": 0, "width": 128, "height": 128},
        "reference_tier_index": 1,
        "length": 64,
        "annotations": "POLYGON ((0 0, 128 0, 128 128, 0 128, 0 0))",  # level 0: a quarter
        "annotation_style": {"mode": "MASK"},
    }
    _, mask = window(client, images.rgb.path, body)
    assert mask.shape == (64, 64, 1)
    assert mask[:32, :32].all() and not mask[32:].any() and not mask[:, 32:].any()


def test_crop_transparency_left_bottom_and_safety(client: TestClient, images: Images) -> None:
    height = images.rgb.manifest.image["height"]  # type: ignore[index]
    flipped = (
        f"POLYGON ((40 {height - 40}, 200 {height - 40}, 40 {height - 160}, 40 {height - 40}))"
    )
    body = {
        "region": REGION,
        "annotations": [{"geometry": flipped}],
        "annotation_style": {"mode": "CROP", "background_transparency": 40},
    }
    _, crop = window(client, images.rgb.path, body, X_Annotation_Origin="LEFT_BOTTOM")
    assert crop[45, 45, 3] == 255 and crop[200, 200, 3] == round(0.6 * 255)
    body = {"region": REGION, "annotations": TRIANGLE, "length": 4000}
    too_large = client.post(f"/image/{images.rgb.path}/window.png", json=body)
    assert too_large.status_code == 400
    response, out = window(client, images.rgb.path, body, X_Image_Size_Safety="SAFE_RESIZE")
    assert out.shape[0] == 2000 and "x-image-size-limit" in response.headers


@pytest.mark.parametrize(
    ("style", "detail"),
    [({"mode": "BLUR"}, "annotation_style.mode"), ("DRAWING", "annotation_style"),
     ({"mode": "CROP", "background_transparency": 101}, "background_transparency")],
)  # fmt: skip
def test_bad_styles(client: TestClient, images: Images, style: object, detail: str) -> None:
    body = {"region": REGION, "annotations": TRIANGLE, "annotation_style": style}
    response = client.post(f"/image/{images.rgb.path}/window", json=body)
    assert response.status_code == 422 and detail in response.json()["details"]


def test_sixteen_bit_window_drawing(client: TestClient, images: Images) -> None:
    body = {
        "region": {"left": 0, "top": 0, "width": 256, "height": 256},
        "bits": "AUTO",
        "annotations": [{"geometry": TRIANGLE, "stroke_color": "#ffffff"}],
    }
    _, out = window(client, images.u16.path, body)
    assert out.dtype == np.uint16 and out[39, 100, 0] == 65535  # white is white at 16 bits
