"""Normalized tiles and tiles: passthrough, decoded renders, pixels, edges, errors."""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cytotile.pipeline.outputs import STATS
from cytotile.pyramid import Pyramid
from cytotile.tiff.reader import open_pyramid
from tests.api.conftest import Images, decode
from tests.helpers.pixels import box_downsample, mad


def url(path: str, tail: str) -> str:
    return f"/image/{path}/{tail}"


def test_passthrough_bytes_are_the_stored_bytes(client: TestClient, images: Images) -> None:
    reader = open_pyramid(images.storage, f"{images.rgb.upload_id}/processed/visualisation.PYRTIFF")
    before = STATS.snapshot()
    for tail in (
        "normalized-tile/level/0/ti/5.jpg",
        "normalized-tile/zoom/2/tx/1/ty/1",
        "tile/level/0/ti/5",
    ):
        response = client.get(url(images.rgb.path, tail))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-cytotile-passthrough"] == "1"
        assert response.content == reader.jpeg_tile(0, 0, 1, 1)
    after = STATS.snapshot()
    assert after["passthroughs"] - before["passthroughs"] == 3
    assert after["tiles"] - before["tiles"] == 3


def test_grey_passthrough(client: TestClient, images: Images) -> None:
    response = client.get(url(images.grey.path, "normalized-tile/level/0/ti/0"))
    assert response.headers["x-cytotile-passthrough"] == "1"
    assert decode(response.content).shape == (256, 256, 1)


@pytest.mark.parametrize(
    "query",
    ["gammas=0.5", "min_intensities=10", "max_intensities=200", "log=true", "filters=otsu",
     "channels=0", "colormaps=jet"],
)  # fmt: skip
def test_processing_decodes(client: TestClient, images: Images, query: str) -> None:
    response = client.get(url(images.rgb.path, f"normalized-tile/level/0/ti/0?{query}"))
    assert response.status_code == 200, response.text
    assert response.headers["x-cytotile-passthrough"] == "0"
    plain = decode(client.get(url(images.rgb.path, "normalized-tile/level/0/ti/0")).content)
    rendered = decode(response.content)
    assert rendered.shape != plain.shape or mad(rendered, plain) > 1


def test_png_is_decoded_and_equal(client: TestClient, images: Images) -> None:
    response = client.get(url(images.rgb.path, "normalized-tile/level/0/tx/0/ty/0.png"))
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-cytotile-passthrough"] == "0"
    jpeg = client.get(url(images.rgb.path, "normalized-tile/level/0/tx/0/ty/0.jpg"))
    assert mad(decode(response.content), decode(jpeg.content)) < 0.01


@pytest.mark.parametrize("level", [0, 1, 2])
def test_tile_pixels_match_the_source(client: TestClient, images: Images, level: int) -> None:
    source = box_downsample(images.rgb.pixels, level)
    tier = images.rgb.pyramid.at_level(level)
    for ti in range(tier.n_tiles):
        response = client.get(url(images.rgb.path, f"normalized-tile/level/{level}/ti/{ti}"))
        region = tier.tile_region(*tier.ti_to_txty(ti))
        expected = source[region.top : region.bottom, region.left : region.right]
        assert mad(decode(response.content), expected) < 3, (level, ti)


@pytest.mark.parametrize("name", ["rgb", "grey", "u16", "multi"])
@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_edge_tiles_have_their_exact_size(
    client: TestClient, images: Images, name: str, ext: str
) -> None:
    image = getattr(images, name)
    pyramid: Pyramid = image.pyramid
    for tier in pyramid.tiers:
        edges = {(tier.n_tx - 1, ty) for ty in range(tier.n_ty)}
        edges |= {(tx, tier.n_ty - 1) for tx in range(tier.n_tx)}
        for tx, ty in edges:
            response = client.get(
                url(image.path, f"normalized-tile/zoom/{tier.zoom}/tx/{tx}/ty/{ty}{ext}")
            )
            assert response.status_code == 200, response.text
            region = tier.tile_region(tx, ty)
            assert decode(response.content).shape[:2] == (region.height, region.width)


def test_post_forms(client: TestClient, images: Images) -> None:
    expected = client.get(url(images.rgb.path, "normalized-tile/level/1/ti/3")).content
    bodies = [
        ("normalized-tile", {"level": 1, "ti": 3}),
        ("normalized-tile", {"zoom": 1, "tx": 1, "ty": 1}),
        ("normalized-tile.jpg", {"level": 1, "tx": 1, "ty": 1}),
        ("tile", {"zoom": 1, "ti": 3}),
        ("normalized-tile/level/1/ti/3", {}),
        ("tile/zoom/1/tx/1/ty/1", None),
    ]
    for tail, body in bodies:
        response = client.post(url(images.rgb.path, tail), json=body)
        assert response.status_code == 200, (tail, response.text)
        assert response.content == expected, tail
    gamma = client.post(url(images.rgb.path, "normalized-tile/level/1/ti/3"), json={"gammas": 2})
    assert gamma.headers["x-cytotile-passthrough"] == "0"


def test_caching_headers_and_304(client: TestClient, images: Images) -> None:
    response = client.get(url(images.rgb.path, "normalized-tile/level/0/ti/1"))
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    control = response.headers["cache-control"]
    assert control.startswith("public") and "max-age=86400" in control and "s-maxage" in control
    assert "Accept" in response.headers["vary"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = client.get(url(images.rgb.path, "normalized-tile/level/0/ti/1"),
                           headers={"If-None-Match": header})  # fmt: skip
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
    other = client.get(url(images.rgb.path, "normalized-tile/level/0/ti/1"),
                       headers={"If-None-Match": '"nope"'})  # fmt: skip
    assert other.status_code == 200
    # the same request as POST, parameters in another form: same ETag
    posted = client.post(url(images.rgb.path, "normalized-tile"), json={"level": 0, "ti": 1})
    assert posted.headers["etag"] == etag
    png = client.get(url(images.rgb.path, "normalized-tile/level/0/ti/1.png"))
    assert png.headers["etag"] != etag


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "image/jpeg"),
        ("image/png", "image/png"),
        ("image/webp", "image/webp"),
        ("image/png;q=0.5, image/webp;q=0.9", "image/webp"),
        ("image/*", "image/jpeg"),
        ("*/*", "image/jpeg"),
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image/jpeg"),
        ("image/jpeg;q=0, image/*", "image/png"),
    ],
)
def test_accept_negotiation(
    client: TestClient, images: Images, accept: str | None, media: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get(url(images.grey.path, "normalized-tile/level/0/ti/0"), headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == media


def test_extension_wins_over_accept(client: TestClient, images: Images) -> None:
    response = client.get(url(images.grey.path, "normalized-tile/level/0/ti/0.webp"),
                          headers={"Accept": "image/png"})  # fmt: skip
    assert response.headers["content-type"] == "image/webp"


@pytest.mark.parametrize("accept", ["text/html", "application/json", "image/*;q=0"])
def test_not_acceptable(client: TestClient, images: Images, accept: str) -> None:
    response = client.get(url(images.grey.path, "normalized-tile/level/0/ti/0"),
                          headers={"Accept": accept})  # fmt: skip
    assert response.status_code == 406
    assert response.json()["title"] == "Not acceptable"


def test_unknown_extension_is_422(client: TestClient, images: Images) -> None:
    response = client.get(url(images.grey.path, "normalized-tile/level/0/ti/0.gif"))
    assert response.status_code == 422  # PIMS validates the extension: 422, not 406


@pytest.mark.parametrize(
    ("tail", "status"),
    [
        ("normalized-tile/zoom/3/ti/0", 400),
        ("normalized-tile/level/99/ti/0", 400),
        ("normalized-tile/level/0/ti/16", 400),
        ("normalized-tile/level/0/tx/4/ty/0", 400),
        ("normalized-tile/level/0/tx/0/ty/4", 400),
        ("normalized-tile/level/0/ti/-1", 422),
        ("normalized-tile/level/x/ti/0", 422),
        ("normalized-tile/level/0/ti/1.5", 422),
        ("normalized-tile/level/0/ti/0?gammas=11", 422),
        ("normalized-tile/level/0/ti/0?channels=3", 422),
        ("normalized-tile/level/0/ti/0?z_slices=1", 422),
        ("normalized-tile/level/0/ti/0?min_intensities=BRIGHT", 422),
        ("normalized-tile/level/0/ti/0?min_intensities=1,2", 422),
        ("normalized-tile/level/0/ti/0?min_intensities=300&max_intensities=200", 422),
        ("normalized-tile/level/0/ti/0?colormaps=rainbowz", 422),
        ("normalized-tile/level/0/ti/0?filters=h_dab", 422),
        ("normalized-tile/level/0/ti/0?log=maybe", 422),
    ],
)
def test_errors(client: TestClient, images: Images, tail: str, status: int) -> None:
    response = client.get(url(images.rgb.path, tail))
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"title", "details"}


def test_parameter_is_named_in_422(client: TestClient, images: Images) -> None:
    response = client.get(url(images.rgb.path, "normalized-tile/level/0/ti/0?gammas=abc"))
    assert response.status_code == 422
    assert "gammas" in response.json()["details"]


def test_unknown_image_is_404(client: TestClient) -> None:
    response = client.get("/image/upload-nothing/x.svs/normalized-tile/level/0/ti/0")
    assert response.status_code == 404
    assert response.json()["title"] == "Image not found"


def test_post_generic_needs_a_tile(client: TestClient, images: Images) -> None:
    for body in ({"ti": 0}, {"level": 0}, {"level": 0, "zoom": 1, "ti": 0}, {"level": 0, "tx": 1}):
        response = client.post(url(images.rgb.path, "normalized-tile"), json=body)
        assert response.status_code == 422, body
    bad = client.post(url(images.rgb.path, "normalized-tile"), content=b"{nope",
                      headers={"content-type": "application/json"})  # fmt: skip
    assert bad.status_code == 400
    assert client.get(url(images.rgb.path, "normalized-tile")).status_code == 405


def test_multichannel_tile(client: TestClient, images: Images) -> None:
    both = decode(client.get(url(images.multi.path, "normalized-tile/level/0/ti/0.png")).content)
    assert both.shape == (200, 256, 3)
    # channel 0 is red in the metadata, channel 1 green: nothing in blue
    assert both[..., 2].max() == 0 and both[..., 0].max() > 0 and both[..., 1].max() > 0
    one = decode(
        client.get(url(images.multi.path, "normalized-tile/level/0/ti/0.png?channels=1")).content
    )
    # one channel alone keeps its colour (DEFAULT, as PIMS): green, nothing in red or blue
    assert one.shape == (200, 256, 3) and one[..., 1].max() > 0
    assert one[..., 0].max() == 0 and one[..., 2].max() == 0
    z0 = client.get(url(images.multi.path, "normalized-tile/level/0/ti/0.png?z_slices=0"))
    z2 = client.get(url(images.multi.path, "normalized-tile/level/0/ti/0.png?z_slices=2"))
    default = client.get(url(images.multi.path, "normalized-tile/level/0/ti/0.png"))
    assert z0.content != z2.content
    assert (
        default.content
        == client.get(url(images.multi.path, "normalized-tile/level/0/ti/0.png?z_slices=1")).content
    )  # the median focal plane


def test_u16_tile_stretches_to_the_image_range(client: TestClient, images: Images) -> None:
    response = client.get(url(images.u16.path, "normalized-tile/level/0/ti/0.png"))
    pixels = decode(response.content)
    assert pixels.dtype == np.uint8
    # AUTO_IMAGE stretches the 12-bit data over the whole 8-bit range
    assert pixels.max() > 200


QUERY_NAMES = [
    "channels", "z_slices", "timepoints", "min_intensities", "max_intensities",
    "gammas", "log", "filters", "colormaps", "bits", "colorspace", "zoom", "x",
]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(-10, 70000).map(str),
    st.sampled_from(["AUTO_IMAGE", "STRETCH_PLANE", "otsu", "jet", "!red", "1e400", "nan", "0.5"]),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=st.lists(
        st.tuples(st.sampled_from(QUERY_NAMES) | st.text(max_size=8), VALUES), max_size=5
    ),
    tier=st.integers(-1, 4),
    ti=st.integers(-1, 20),
    ext=st.sampled_from(["", ".jpg", ".png", ".webp", ".tif"]),
)
def test_random_queries_never_500(
    client: TestClient, images: Images, items: list[tuple[str, str]], tier: int, ti: int, ext: str
) -> None:
    query = urlencode(items)
    response = client.get(
        url(images.multi.path, f"normalized-tile/zoom/{tier}/ti/{ti}{ext}?{query}")
    )
    assert response.status_code < 500, (query, response.text)
    if response.status_code >= 400:
        assert set(response.json()) == {"title", "details"}


def test_head(client: TestClient, images: Images) -> None:
    response = client.head(url(images.rgb.path, "normalized-tile/level/0/ti/0"))
    assert response.status_code == 200
    assert response.content == b"" and response.headers["etag"]


def test_without_inline_io(images: Images) -> None:
    """Storage that must not block the event loop (S3 served by uvicorn): all in the pool."""
    from dataclasses import replace

    from cytotile.api.app import create_app
    from cytotile.settings import ServerSettings

    app = create_app(ServerSettings(root=str(images.root)), images.storage)
    app.state.cytotile = replace(app.state.cytotile, inline_io=False)
    with TestClient(app) as client:
        plain = client.get(url(images.rgb.path, "normalized-tile/level/0/ti/0"))
        assert plain.headers["x-cytotile-passthrough"] == "1"
        decoded = client.get(url(images.rgb.path, "normalized-tile/level/0/ti/0?gammas=2"))
        assert decoded.headers["x-cytotile-passthrough"] == "0"
