"""Thumbnails, resized images and windows."""

from __future__ import annotations

import numpy as np
import pytest
import pyvips
from starlette.testclient import TestClient

from tests.api.conftest import Images, decode
from tests.helpers.pixels import box_downsample, mad


def reference(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels))
    out = image.resize(width / image.width, vscale=height / image.height).numpy()
    return out[..., None] if out.ndim == 2 else out


@pytest.mark.parametrize(
    ("query", "size"),
    [("", (256, 199)), ("length=100", (100, 78)), ("width=50", (50, 39)),
     ("height=50", (64, 50)), ("length=0.5", (500, 388)), ("height=100&width=10", (129, 100))],
)  # fmt: skip
def test_thumb_sizes(client: TestClient, images: Images, query: str, size: tuple[int, int]) -> None:
    response = client.get(f"/image/{images.rgb.path}/thumb.png?{query}")
    assert response.status_code == 200, response.text
    pixels = decode(response.content)
    assert (pixels.shape[1], pixels.shape[0]) == size
    assert mad(pixels, reference(images.rgb.pixels, *size)) < 3


def test_thumb_post_and_caching(client: TestClient, images: Images) -> None:
    got = client.get(f"/image/{images.rgb.path}/thumb", params={"length": 128})
    posted = client.post(f"/image/{images.rgb.path}/thumb", json={"length": 128})
    assert got.headers["content-type"] == "image/jpeg"
    assert got.content == posted.content
    assert got.headers["etag"] == posted.headers["etag"]
    again = client.get(f"/image/{images.rgb.path}/thumb?length=128",
                       headers={"If-None-Match": got.headers["etag"]})  # fmt: skip
    assert again.status_code == 304


def test_thumb_of_16_bits_is_8_bits(client: TestClient, images: Images) -> None:
    pixels = decode(client.get(f"/image/{images.u16.path}/thumb.png").content)
    assert pixels.dtype == np.uint8 and pixels.shape == (148, 256, 1)


def test_resized_16_bits(client: TestClient, images: Images) -> None:
    base = f"/image/{images.u16.path}/resized.png"
    raw = decode(client.get(base, params={"level": 0, "min_intensities": 0,
                                          "max_intensities": 65535}).content)  # fmt: skip
    assert raw.dtype == np.uint16
    assert np.array_equal(raw, images.u16.pixels)  # lossless, identity render
    auto = decode(client.get(base, params={"length": 100}).content)
    assert auto.dtype == np.uint16  # no bounds given: the full range, the values as they are
    full = (1 << images.u16.manifest.image["significant_bits"]) - 1  # 0..4095: 12 bits
    assert abs(int(auto.max()) - int(images.u16.pixels.max()) * 65535 / full) < 300  # (PIMS)
    asked = {"length": 100, "min_intensities": "AUTO_IMAGE", "max_intensities": "AUTO_IMAGE"}
    assert decode(client.get(base, params=asked).content).max() > 60000  # the image's range
    eight = decode(client.get(base, params={"length": 100, "bits": 8}).content)
    assert eight.dtype == np.uint8
    jpeg = client.get(f"/image/{images.u16.path}/resized.jpg", params={"bits": 16})
    assert decode(jpeg.content).dtype == np.uint8  # best effort: JPEG holds 8 bits
    assert client.get(base, params={"bits": 12}).status_code == 422


def test_resized_zoom_and_level(client: TestClient, images: Images) -> None:
    base = f"/image/{images.rgb.path}/resized.png"
    level1 = decode(client.get(base, params={"level": 1}).content)
    assert level1.shape == (389, 501, 3)
    assert mad(level1, box_downsample(images.rgb.pixels, 1)) < 3
    assert decode(client.get(base, params={"zoom": 0}).content).shape == (195, 251, 3)
    assert client.get(base, params={"zoom": 5}).status_code == 400
    posted = client.post(base, json={"level": 1})
    assert decode(posted.content).shape == (389, 501, 3)


def test_resized_colorspace(client: TestClient, images: Images) -> None:
    base = f"/image/{images.rgb.path}/resized.png"
    grey = decode(client.get(base, params={"length": 64, "colorspace": "GRAY"}).content)
    assert grey.shape[2] == 1
    color = decode(client.get(f"/image/{images.grey.path}/resized.png",
                              params={"length": 64, "colorspace": "COLOR"}).content)  # fmt: skip
    assert color.shape[2] == 3
    assert client.get(base, params={"colorspace": "CMYK"}).status_code == 422


def test_size_limit(client: TestClient, images: Images) -> None:
    # the test server's limit is 4 000 000 pixels
    url = f"/image/{images.rgb.path}/resized.jpg"
    rejected = client.get(url, params={"length": 4000})
    assert rejected.status_code == 400
    assert "SAFE_RESIZE" in rejected.json()["details"]
    resized = client.get(
        url, params={"length": 4000}, headers={"X-Image-Size-Safety": "SAFE_RESIZE"}
    )
    assert resized.status_code == 200
    height, width = decode(resized.content).shape[:2]
    assert width * height <= 4_000_000 and width > 2000
    assert "safe_width" in resized.headers["x-image-size-limit"]
    bad = client.get(url, headers={"X-Image-Size-Safety": "YOLO"})
    assert bad.status_code == 422


def test_window_region(client: TestClient, images: Images) -> None:
    region = {"left": 100, "top": 50, "width": 300, "height": 200}
    response = client.post(f"/image/{images.rgb.path}/window.png", json={"region": region})
    assert response.status_code == 200, response.text
    expected = images.rgb.pixels[50:250, 100:400]
    assert mad(decode(response.content), expected) < 3
    # same region, at level 1 coordinates, answered at level 0 size
    half = {"left": 50, "top": 25, "width": 150, "height": 100}
    body = {"region": half, "reference_tier_index": 1, "tier_index_type": "LEVEL", "level": 0}
    scaled = client.post(f"/image/{images.rgb.path}/window.png", json=body)
    assert mad(decode(scaled.content), expected) < 6
    body = {"region": half, "reference_tier_index": 1, "tier_index_type": "ZOOM"}
    assert decode(client.post(f"/image/{images.rgb.path}/window.png", json=body).content).shape == (
        100, 150, 3,
    )  # fmt: skip


def test_window_targets(client: TestClient, images: Images) -> None:
    url = f"/image/{images.rgb.path}/window.png"
    region = {"left": 0, "top": 0, "width": 600, "height": 400}
    sizes = [({"length": 150}, (100, 150)), ({"width": 60}, (40, 60)), ({"height": 80}, (80, 120)),
             ({"level": 1}, (200, 300)), ({"zoom": 0}, (100, 150))]  # fmt: skip
    for target, shape in sizes:
        response = client.post(url, json={"region": region, **target})
        assert response.status_code == 200, response.text
        pixels = decode(response.content)
        assert pixels.shape[:2] == shape, target
    small = decode(client.post(url, json={"region": region, "length": 150}).content)
    assert mad(small, reference(images.rgb.pixels[:400, :600], 150, 100)) < 3


def test_window_by_tile(client: TestClient, images: Images) -> None:
    url = f"/image/{images.rgb.path}/window.png"
    tile = decode(client.get(f"/image/{images.rgb.path}/normalized-tile/level/1/ti/3.png").content)
    for body in (
        {"ti": 3, "reference_tier_index": 1},
        {"tx": 1, "ty": 1, "reference_tier_index": 1},
    ):
        assert np.array_equal(decode(client.post(url, json=body).content), tile), body


def test_window_u16_bits(client: TestClient, images: Images) -> None:
    region = {"left": 10, "top": 20, "width": 100, "height": 50}
    body = {"region": region, "bits": 16, "min_intensities": 0, "max_intensities": 65535}
    pixels = decode(client.post(f"/image/{images.u16.path}/window.png", json=body).content)
    assert np.array_equal(pixels, images.u16.pixels[20:70, 10:110])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"region": {"left": 0, "top": 0, "width": 10}}, 422),
        ({"region": [0, 0, 10, 10]}, 422),
        ({"region": {"left": -1, "top": 0, "width": 10, "height": 10}}, 422),
        ({"region": {"left": 0, "top": 0, "width": 0, "height": 10}}, 422),
        ({"region": {"left": 900, "top": 0, "width": 200, "height": 10}}, 400),
        (
            {"region": {"left": 0, "top": 0, "width": 10, "height": 10}, "reference_tier_index": 7},
            400,
        ),
        ({"region": {"left": 0, "top": 0, "width": 10, "height": 10}, "tier_index_type": "X"}, 422),
        ({"ti": 99}, 400),
        ({"region": {"left": 0, "top": 0, "width": 10, "height": 10}, "annotations": [{}]}, 422),
    ],
)
def test_window_errors(
    client: TestClient, images: Images, body: dict[str, object], status: int
) -> None:
    response = client.post(f"/image/{images.rgb.path}/window", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"title", "details"}


def test_window_is_post_only(client: TestClient, images: Images) -> None:
    response = client.get(f"/image/{images.rgb.path}/window")
    assert response.status_code == 405
    assert response.json()["title"] == "Method not allowed"
