"""IIIF routes over the synthetic images: info.json (3 and 2.1), passthrough of stored tiles,
rendered regions, sizes, rotations and qualities, plane parameters, errors, the manifest."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cytotile.pipeline.outputs import STATS
from cytotile.tiff.reader import open_pyramid
from tests.api.conftest import Images, decode
from tests.helpers.pixels import box_downsample, mad


def ident(path: str) -> str:
    return quote(path, safe="")


def iiif(path: str, tail: str, version: int = 3) -> str:
    return f"/iiif/{version}/{ident(path)}/{tail}"


def test_info_json_3(client: TestClient, images: Images) -> None:
    response = client.get(iiif(images.rgb.path, "info.json"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert 'rel="profile"' in response.headers["link"]
    info = response.json()
    assert info["id"] == f"http://testserver/iiif/3/{ident(images.rgb.path)}"
    assert (info["type"], info["profile"], info["width"], info["height"]) == (
        "ImageService3", "level2", 1001, 777,
    )  # fmt: skip
    assert info["tiles"] == [{"width": 256, "height": 256, "scaleFactors": [1, 2, 4]}]
    sizes = [(s["width"], s["height"]) for s in info["sizes"]]
    assert sizes == [(251, 195), (501, 389), (1001, 777)]
    assert info["maxArea"] == 4_000_000 and info["maxWidth"] == info["maxHeight"] == 16383
    assert {"mirroring", "rotationArbitrary"} <= set(info["extraFeatures"])
    assert set(info["extraQualities"]) == {"color", "gray", "bitonal"}
    assert info["extraFormats"] == ["webp"]
    ld = client.get(iiif(images.rgb.path, "info.json"), headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"] == (
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    )
    assert ld.headers["etag"] != response.headers["etag"]


def test_info_json_2(client: TestClient, images: Images) -> None:
    info = client.get(iiif(images.rgb.path, "info.json", 2)).json()
    assert info["@context"] == "http://iiif.io/api/image/2/context.json"
    assert info["@id"] == f"http://testserver/iiif/2/{ident(images.rgb.path)}"
    assert info["profile"][0] == "http://iiif.io/api/image/2/level2.json"
    assert set(info["profile"][1]["qualities"]) == {"default", "color", "gray", "bitonal"}
    assert info["tiles"][0]["scaleFactors"] == [1, 2, 4]


def test_unescaped_identifier_and_base_redirect(client: TestClient, images: Images) -> None:
    plain = client.get(f"/iiif/3/{images.rgb.path}/info.json").json()
    assert plain["id"].endswith(ident(images.rgb.path))
    redirect = client.get(f"/iiif/3/{ident(images.rgb.path)}", follow_redirects=False)
    assert redirect.status_code == 303
    assert (
        redirect.headers["location"]
        == f"http://testserver/iiif/3/{ident(images.rgb.path)}/info.json"
    )


def test_every_stored_tile_is_passed_through(client: TestClient, images: Images) -> None:
    """The requests OpenSeadragon makes from info.json: one per tile of every tier."""
    reader = open_pyramid(images.storage, f"{images.rgb.upload_id}/processed/visualisation.PYRTIFF")
    before = STATS.snapshot()["passthroughs"]
    count = 0
    for tier in images.rgb.pyramid.tiers:
        span = 256 << tier.level
        for ty in range(tier.n_ty):
            for tx in range(tier.n_tx):
                tile = tier.tile_region(tx, ty)
                x, y = tx * span, ty * span
                w, h = min(span, 1001 - x), min(span, 777 - y)
                for size in (f"{tile.width},{tile.height}", f"{tile.width},"):
                    response = client.get(
                        iiif(images.rgb.path, f"{x},{y},{w},{h}/{size}/0/default.jpg")
                    )
                    assert response.status_code == 200, response.text
                    assert response.headers["x-cytotile-passthrough"] == "1", (tier.level, tx, ty)
                    assert response.content == reader.jpeg_tile(0, tier.level, tx, ty)
                    count += 1
    assert STATS.snapshot()["passthroughs"] - before == count
    v2 = client.get(iiif(images.rgb.path, "full/251,/0/default.jpg", 2))
    assert v2.headers["x-cytotile-passthrough"] == "1"
    assert v2.content == reader.jpeg_tile(0, 2, 0, 0)


@pytest.mark.parametrize(
    "tail",
    ["0,0,256,256/256,256/0/gray.jpg", "0,0,256,256/256,256/90/default.jpg",
     "0,0,256,256/256,256/0/default.png", "1,0,256,256/256,256/0/default.jpg",
     "0,0,256,256/128,128/0/default.jpg"],
)  # fmt: skip
def test_other_requests_are_rendered(client: TestClient, images: Images, tail: str) -> None:
    response = client.get(iiif(images.rgb.path, tail))
    assert response.status_code == 200, response.text
    assert response.headers["x-cytotile-passthrough"] == "0"


def test_region_and_size_pixels(client: TestClient, images: Images) -> None:
    response = client.get(iiif(images.rgb.path, "200,100,400,300/200,150/0/default.png"))
    got = decode(response.content)
    assert got.shape == (150, 200, 3)
    expected = box_downsample(images.rgb.pixels[100:400, 200:600], 1)
    assert mad(got, expected) < 3
    full = decode(client.get(iiif(images.rgb.path, "full/max/0/default.png")).content)
    assert full.shape == (777, 1001, 3) and mad(full, images.rgb.pixels) < 3


def test_rotations_and_mirroring(client: TestClient, images: Images) -> None:
    def get(rotation: str) -> np.ndarray:
        url = iiif(images.rgb.path, f"0,0,300,200/300,200/{rotation}/default.png")
        return decode(client.get(url).content)

    upright = get("0")
    assert np.array_equal(get("90"), np.rot90(upright, k=-1))
    assert np.array_equal(get("180"), np.rot90(upright, k=2))
    assert np.array_equal(get("270"), np.rot90(upright, k=1))
    assert np.array_equal(get("!0"), upright[:, ::-1])
    assert np.array_equal(get("!90"), np.rot90(upright[:, ::-1], k=-1))
    tilted = get("30")
    expected_w = 300 * np.cos(np.pi / 6) + 200 * np.sin(np.pi / 6)
    assert abs(tilted.shape[1] - expected_w) <= 2
    assert tuple(tilted[0, 0]) == (255, 255, 255)  # the corner outside the image


def test_qualities(client: TestClient, images: Images) -> None:
    gray = decode(client.get(iiif(images.rgb.path, "full/200,/0/gray.png")).content)
    assert gray.shape[2] == 1
    bitonal = decode(client.get(iiif(images.rgb.path, "full/200,/0/bitonal.png")).content)
    assert set(np.unique(bitonal)) <= {0, 255} and len(np.unique(bitonal)) == 2
    color = decode(client.get(iiif(images.grey.path, "full/200,/0/color.png")).content)
    assert color.shape[2] == 3
    webp = client.get(iiif(images.rgb.path, "full/200,/0/default.webp"))
    assert webp.headers["content-type"] == "image/webp" and webp.content[8:12] == b"WEBP"


def test_plane_parameters_on_a_multichannel_image(client: TestClient, images: Images) -> None:
    def get(query: str) -> np.ndarray:
        url = iiif(images.multi.path, f"full/max/0/default.png{query}")
        response = client.get(url)
        assert response.status_code == 200, response.text
        return decode(response.content)

    merged, first = get(""), get("?channels=0")
    assert merged.shape == first.shape == (200, 300, 3)  # one channel keeps its colour (PIMS)
    assert mad(get("?z_slices=0"), get("?z_slices=2")) > 1
    bad = client.get(iiif(images.multi.path, "full/max/0/default.png?channels=5"))
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("tail", "status"),
    [("nope/max/0/default.jpg", 400), ("full/nope/0/default.jpg", 400),
     ("full/max/nope/default.jpg", 400), ("full/max/0/nope.jpg", 400),
     ("full/max/0/default.nope", 400), ("full/max/0/default.tif", 501),
     ("full/2000,/0/default.jpg", 400), ("5000,0,10,10/max/0/default.jpg", 400),
     ("full/^3000,/0/default.jpg", 400)],
)  # fmt: skip
def test_errors(client: TestClient, images: Images, tail: str, status: int) -> None:
    response = client.get(iiif(images.rgb.path, tail))
    assert response.status_code == status, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert set(response.json()) == {"title", "details"}


def test_unknown_images_are_404(client: TestClient) -> None:
    for url in (
        "/iiif/3/upload-missing%2Fx.svs/info.json",
        "/iiif/3/a%2Fb/full/max/0/default.jpg",
        "/iiif/3/no-such-image/full/max/0/default.jpg",
        "/iiif/3/upload-missing",
        "/iiif/4/upload-missing/info.json",
    ):
        assert client.get(url).status_code == 404, url


def test_conditional_requests(client: TestClient, images: Images) -> None:
    url = iiif(images.rgb.path, "0,0,256,256/256,256/0/default.jpg")
    etag = client.get(url).headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_manifest(client: TestClient, images: Images) -> None:
    response = client.get(f"/iiif/3/{ident(images.rgb.path)}/manifest")
    assert response.status_code == 200, response.text
    m = response.json()
    assert m["@context"] == "http://iiif.io/api/presentation/3/context.json"
    assert m["type"] == "Manifest" and m["label"] == {"none": ["CMU-1.svs"]}
    assert m["id"] == f"http://testserver/iiif/3/{ident(images.rgb.path)}/manifest"
    main, *extra = m["items"]
    assert (main["width"], main["height"]) == (1001, 777)
    body = main["items"][0]["items"][0]["body"]
    service = body["service"][0]
    assert service["id"] == f"http://testserver/iiif/3/{ident(images.rgb.path)}"
    assert service["type"] == "ImageService3"
    assert main["items"][0]["items"][0]["target"] == main["id"]
    assert main["service"][0]["physicalScale"] == pytest.approx(0.0005)
    assert [c["label"] for c in extra] == [{"none": ["label"]}, {"none": ["macro"]}]
    assert (extra[1]["width"], extra[1]["height"]) == (300, 100)
    labels = {row["label"]["en"][0]: row["value"]["none"][0] for row in m["metadata"]}
    assert labels["Physical size"] == f"{1001 * 0.5 / 1000:.3f} x {777 * 0.5 / 1000:.3f} mm"
    for picture in m["thumbnail"]:
        url = picture["id"].removeprefix("http://testserver")
        got = decode(client.get(url).content)
        assert got.shape[:2] == (picture["height"], picture["width"])


def test_public_host_behind_the_cdn(client: TestClient, images: Images) -> None:
    url = iiif(images.rgb.path, "info.json")
    cdn = client.get(url, headers={"X-Cytotile-Public-Host": "d1234.cloudfront.net"}).json()
    assert cdn["id"] == f"https://d1234.cloudfront.net/iiif/3/{ident(images.rgb.path)}"
    forged = client.get(url, headers={"X-Cytotile-Public-Host": "evil/x?"}).json()
    assert forged["id"].startswith("http://testserver/")


def test_stage_prefix_behind_api_gateway(images: Images) -> None:
    """Mangum hands the app the path without the stage; the event's requestContext has it."""
    from starlette.requests import Request

    from cytotile.api.iiif.base import public_base

    event = {"path": "/iiif/3/x/info.json", "requestContext": {"path": "/Prod/iiif/3/x/info.json"}}
    scope = {
        "type": "http", "method": "GET", "path": "/iiif/3/x/info.json", "root_path": "",
        "scheme": "https", "server": ("abc.execute-api.eu-west-1.amazonaws.com", 443),
        "query_string": b"", "headers": [(b"host", b"abc.execute-api.eu-west-1.amazonaws.com")],
        "aws.event": event,
    }  # fmt: skip
    assert public_base(Request(scope)) == "https://abc.execute-api.eu-west-1.amazonaws.com/Prod"
    shouting = {**scope, "scheme": "HTTP"}  # LocalStack's X-Forwarded-Proto
    assert public_base(Request(shouting)).startswith("http://abc.execute-api")


def test_memory_budget(images: Images) -> None:
    """info.json's maxArea is what the memory budget of one request holds: max stays within
    it, a larger explicit size is a 400 (IIIF), a stored tile costs no budget."""
    from cytotile.api.app import create_app
    from cytotile.settings import ServerSettings

    settings = ServerSettings(root=str(images.root), request_memory_mb=40)
    with TestClient(create_app(settings, images.storage)) as small:
        info = small.get(iiif(images.rgb.path, "info.json")).json()
        assert 0 < info["maxArea"] < 1001 * 777
        largest = decode(small.get(iiif(images.rgb.path, "full/max/0/default.png")).content)
        height, width = largest.shape[:2]
        assert width * height <= info["maxArea"] and width < 1001
        assert abs(width / height - 1001 / 777) < 0.01
        assert small.get(iiif(images.rgb.path, "full/1001,777/0/default.png")).status_code == 400
        tile = small.get(iiif(images.rgb.path, "0,0,256,256/256,256/0/default.jpg"))
        assert tile.headers["x-cytotile-passthrough"] == "1"
        planned = small.get(iiif(images.multi.path, "full/max/0/default.png?z_slices=0,1,2"))
        assert planned.status_code == 200, planned.text  # within the budget: rendered


segment = st.text(
    st.sampled_from("0123456789,.!^:-pctmaxfulsqrgybw%"), min_size=1, max_size=14
).filter(lambda s: "/" not in s and s not in (".", ".."))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    segment,
    segment,
    segment,
    st.sampled_from(["default", "gray", "x"]),
    st.sampled_from(["jpg", "png", "tif", "x"]),
)
def test_never_a_server_error(
    client: TestClient,
    images: Images,
    region: str,
    size: str,
    rotation: str,
    quality: str,
    fmt: str,
) -> None:
    """IIIF-looking junk: a 2xx, or a 4xx/501 with a JSON reason and CORS; never a 500."""
    path = "/".join(quote(p, safe="!,:^") for p in (region, size, rotation))
    for version in (3, 2):
        response = client.get(iiif(images.grey.path, f"{path}/{quality}.{fmt}", version))
        assert response.status_code < 500 or response.status_code == 501, response.text
        if response.status_code >= 400:
            assert set(response.json()) == {"title", "details"}
            assert response.headers["access-control-allow-origin"] == "*"
