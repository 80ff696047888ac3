"""DeepZoom: the descriptor, DeepZoom's level sizes, passthrough of the levels that are tiers,
renders below the smallest tier, errors."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cytotile.api.dzi import level_size, max_level
from cytotile.pyramid import Pyramid, ceil_div
from cytotile.tiff.reader import open_pyramid
from tests.api.conftest import Images, decode
from tests.helpers.pixels import box_downsample, mad

NS = "{http://schemas.microsoft.com/deepzoom/2008}"


@given(st.integers(1, 200_000), st.integers(1, 200_000))
def test_levels_follow_deepzoom_and_meet_the_tiers(width: int, height: int) -> None:
    top = max_level(width, height)
    assert top == math.ceil(math.log2(max(width, height)))
    assert level_size(width, height, top) == (width, height)
    assert level_size(width, height, 0) == (1, 1)
    for level in range(top + 1):  # level L is ceil(W / 2^(maxL - L))
        k = top - level
        assert level_size(width, height, level) == (ceil_div(width, 2**k), ceil_div(height, 2**k))
    for tier in Pyramid(width, height).tiers:  # every tier is the DeepZoom level maxL - k
        assert level_size(width, height, top - tier.level) == (tier.width, tier.height)


def test_descriptor(client: TestClient, images: Images) -> None:
    response = client.get(f"/dzi/{images.rgb.path}.dzi")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}Image"
    assert (root.get("TileSize"), root.get("Overlap"), root.get("Format")) == ("256", "0", "jpeg")
    size = root.find(f"{NS}Size")
    assert size is not None and (size.get("Width"), size.get("Height")) == ("1001", "777")


def test_tier_levels_are_passed_through(client: TestClient, images: Images) -> None:
    reader = open_pyramid(images.storage, f"{images.rgb.upload_id}/processed/visualisation.PYRTIFF")
    top = max_level(1001, 777)
    for tier in images.rgb.pyramid.tiers:
        for ty in range(tier.n_ty):
            for tx in range(tier.n_tx):
                url = f"/dzi/{images.rgb.path}_files/{top - tier.level}/{tx}_{ty}.jpeg"
                response = client.get(url)
                assert response.status_code == 200, response.text
                assert response.headers["x-cytotile-passthrough"] == "1"
                assert response.content == reader.jpeg_tile(0, tier.level, tx, ty)


def test_levels_below_the_smallest_tier_are_rendered(client: TestClient, images: Images) -> None:
    top = max_level(1001, 777)
    smallest = images.rgb.pyramid.max_level
    for level in range(top - smallest):
        response = client.get(f"/dzi/{images.rgb.path}_files/{level}/0_0.png")
        assert response.status_code == 200, response.text
        assert response.headers["x-cytotile-passthrough"] == "0"
        pixels = decode(response.content)
        assert pixels.shape[1::-1] == level_size(1001, 777, level)
    level = top - smallest - 1  # half the smallest tier
    got = decode(client.get(f"/dzi/{images.rgb.path}_files/{level}/0_0.jpeg").content)
    expected = box_downsample(images.rgb.pixels, smallest + 1)
    assert got.shape == expected.shape and mad(got, expected) < 6


def test_png_tiles_equal_the_jpeg_tiles(client: TestClient, images: Images) -> None:
    top = max_level(1001, 777)
    jpeg = decode(client.get(f"/dzi/{images.rgb.path}_files/{top}/3_3.jpeg").content)
    png = client.get(f"/dzi/{images.rgb.path}_files/{top}/3_3.png")
    assert png.headers["x-cytotile-passthrough"] == "0"
    assert decode(png.content).shape == jpeg.shape == (777 - 768, 1001 - 768, 3)
    assert mad(decode(png.content), jpeg) < 1


def test_plane_parameters(client: TestClient, images: Images) -> None:
    top = max_level(300, 200)
    base = f"/dzi/{images.multi.path}_files/{top}/0_0.png"
    first = decode(client.get(base + "?channels=0").content)
    assert first.shape == (200, 256, 3)  # one channel keeps its colour (DEFAULT, as PIMS)
    other_plane = decode(client.get(base + "?channels=0&z_slices=0").content)
    assert other_plane.shape == first.shape and mad(other_plane, first) > 1


def test_errors(client: TestClient, images: Images) -> None:
    top = max_level(1001, 777)
    for tail, status in [
        (f"{top + 1}/0_0.jpeg", 400),
        (f"{top}/4_0.jpeg", 422),
        (f"{top}/0_0.gif", 422),
        ("x/0_0.jpeg", 422),
    ]:
        response = client.get(f"/dzi/{images.rgb.path}_files/{tail}")
        assert response.status_code == status, (tail, response.text)
    assert client.get("/dzi/upload-missing/x.svs.dzi").status_code == 404
