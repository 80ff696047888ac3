"""POST /image/{path}/annotation/{mask,crop,drawing}{ext}: pixel truth on a synthetic image."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.api.conftest import Images, decode

OUTER = "(100 100, 500 100, 500 400, 100 400, 100 100)"
HOLE = "(200 200, 300 200, 300 300, 200 300, 200 200)"
POLYGON = f"POLYGON ({OUTER}, {HOLE})"  # 400x300 minus 100x100: 110000 pixels at level 0

GEOMETRIES = [
    "POINT (400 300)",
    "LINESTRING (100 100, 500 400)",
    POLYGON,
    "MULTIPOINT ((100 100), (500 400))",
    "MULTILINESTRING ((100 100, 200 200), (300 300, 500 400))",
    "MULTIPOLYGON (((100 100, 200 100, 200 200, 100 100)), ((300 300, 500 300, 500 400, 300 300)))",
    "GEOMETRYCOLLECTION (POINT (100 100), LINESTRING (120 120, 300 300),"
    " POLYGON ((300 300, 500 300, 500 400, 300 300)))",
]


def post(client: TestClient, path: str, kind: str, body: dict, ext: str = ".png", **headers: str):
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    return client.post(f"/image/{path}/annotation/{kind}{ext}", json=body, headers=named)


def image(response) -> np.ndarray:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return decode(response.content)


def test_mask_area_hole_and_size(client: TestClient, images: Images) -> None:
    body = {"annotations": [{"geometry": POLYGON}], "length": 200}
    mask = image(post(client, images.rgb.path, "mask", body))
    assert mask.shape == (150, 200, 1)  # the envelope, 400x300, at length 200
    assert set(np.unique(mask)) == {0, 255}
    area = (mask > 0).sum()
    assert abs(area - 110000 / 4) / (110000 / 4) < 0.01
    assert not mask[50:100, 50:100].any()  # the hole
    assert mask[:50].all() and mask[100:].all()


def test_mask_colours_and_order(client: TestClient, images: Images) -> None:
    body = {
        "annotations": [
            {"geometry": "POLYGON ((0 0, 100 0, 100 100, 0 100, 0 0))", "fill_color": "#ff0000"},
            {
                "geometry": "POLYGON ((50 50, 150 50, 150 150, 50 150, 50 50))",
                "fill_color": "rgb(0, 0, 255)",
            },
        ]
    }
    mask = image(post(client, images.rgb.path, "mask", body))
    assert mask.shape == (150, 150, 3)
    assert tuple(mask[10, 10]) == (255, 0, 0)
    assert tuple(mask[75, 75]) == (0, 0, 255)  # the later annotation is on top
    assert tuple(mask[140, 10]) == (0, 0, 0)  # the background is black
    grey = {
        "annotations": [{"geometry": "POLYGON ((0 0, 10 0, 10 10, 0 0))", "fill_color": "#808080"}]
    }
    assert set(np.unique(image(post(client, images.rgb.path, "mask", grey)))) == {0, 128}


def test_left_bottom_flips_y(client: TestClient, images: Images) -> None:
    height = images.rgb.manifest.image["height"]  # type: ignore[index]
    top = "POLYGON ((100 100, 400 100, 100 300, 100 100))"
    y1, y3 = height - 100, height - 300
    bottom = f"POLYGON ((100 {y1}, 400 {y1}, 100 {y3}, 100 {y1}))"
    down = image(post(client, images.rgb.path, "mask", {"annotations": top}))
    up = image(
        post(
            client,
            images.rgb.path,
            "mask",
            {"annotations": bottom},
            X_Annotation_Origin="LEFT_BOTTOM",
        )
    )
    np.testing.assert_array_equal(down, up)
    assert (
        down[5, 280] == 255 and down[190, 5] == 255 and down[190, 280] == 0
    )  # the right angle is up


def test_crop_alpha_and_transparency(client: TestClient, images: Images) -> None:
    window = image(
        client.post(
            f"/image/{images.rgb.path}/window.png",
            json={"region": {"left": 100, "top": 100, "width": 400, "height": 300}},
        )
    )
    crop = image(post(client, images.rgb.path, "crop", {"annotations": [{"geometry": POLYGON}]}))
    assert crop.shape == (300, 400, 4)
    alpha = crop[..., 3]
    assert alpha[0, 0] == 255 and alpha[150, 150] == 0  # inside; the hole
    assert abs((alpha > 0).sum() - 110000) / 110000 < 0.01
    np.testing.assert_array_equal(crop[..., :3][alpha > 0], window[alpha > 0])
    half = image(
        post(
            client, images.rgb.path, "crop", {"annotations": POLYGON, "background_transparency": 50}
        )
    )
    assert half[150, 150, 3] == 128
    opaque = image(
        post(
            client, images.rgb.path, "crop", {"annotations": POLYGON, "background_transparency": 0}
        )
    )
    np.testing.assert_array_equal(opaque, window)  # foreground and background alike
    jpeg = image(post(client, images.rgb.path, "crop", {"annotations": POLYGON}, ".jpg"))
    assert jpeg.shape == (300, 400, 3) and jpeg[150, 150].max() < 20  # flattened on black


@pytest.mark.parametrize("width", [1, 3])
def test_drawing_stroke_on_geometry(client: TestClient, images: Images, width: int) -> None:
    body = {
        "annotations": [{"geometry": POLYGON, "stroke_color": "#00ff00", "stroke_width": width}],
        "context_factor": 1.5,
    }
    drawing = image(post(client, images.rgb.path, "drawing", body))
    assert drawing.shape == (450, 600, 3)  # 400x300 grown by 1.5 about its centre
    green = (drawing[..., 0] == 0) & (drawing[..., 1] == 255) & (drawing[..., 2] == 0)
    # the envelope's origin is (0, 25); the outer top edge is at y = 100 - 25 = 75
    rows = np.nonzero(green[:, 250])[0]  # crosses the outer and the hole's top and bottom
    edges = (75, 175, 275, 375)
    expected = [
        r for r in range(450) if any(e - width / 2 <= r + 0.5 < e + width / 2 for e in edges)
    ]
    assert list(rows) == expected and len(rows) == 4 * width
    window = image(
        client.post(
            f"/image/{images.rgb.path}/window.png",
            json={"region": {"left": 0, "top": 25, "width": 600, "height": 450}},
        )
    )
    np.testing.assert_array_equal(drawing[~green], window[~green])  # the rest is the image


def test_drawing_default_colour_and_points(client: TestClient, images: Images) -> None:
    drawing = image(post(client, images.rgb.path, "drawing", {"annotations": "POINT (500 400)"}))
    assert drawing.shape == (100, 100, 3)  # point_envelope_length: 100
    red = (drawing[..., 0] == 255) & (drawing[..., 1] == 0) & (drawing[..., 2] == 0)
    assert red[50, 50] and red[50, 40] and red[40, 50] and not red[45, 45]  # a cross
    square = post(
        client, images.rgb.path, "drawing",
        {"annotations": "LINESTRING (0 0, 300 100)", "try_square": True, "point_cross": "CIRCLE"},
    )  # fmt: skip
    assert image(square).shape == (300, 300, 3)


@pytest.mark.parametrize("kind", ["mask", "crop", "drawing"])
@pytest.mark.parametrize("wkt", GEOMETRIES)
def test_every_geometry_type(client: TestClient, images: Images, kind: str, wkt: str) -> None:
    body = {
        "annotations": [{"geometry": wkt, "fill_color": "#fff", "stroke_color": "#f00"}],
        "length": 64,
    }
    out = image(post(client, images.rgb.path, kind, body))
    assert max(out.shape[:2]) == 64
    painted = out[..., 3] > 0 if kind == "crop" else out.max(axis=2) > (0 if kind == "mask" else -1)
    assert painted.any()


def test_invalid_geometries(client: TestClient, images: Images) -> None:
    bowtie = "POLYGON ((100 100, 200 200, 200 100, 100 200, 100 100))"
    mask = image(post(client, images.rgb.path, "mask", {"annotations": bowtie}))
    assert abs((mask > 0).sum() - 5000) / 5000 < 0.02  # repaired: two triangles
    for body in (
        {"annotations": "POLYGON ((1 1, 2 2"},
        {"annotations": [{"fill_color": "#fff"}]},
        {"annotations": []},
        {"length": 10},
        {"annotations": POLYGON, "stroke_width": "x", "context_factor": -1},
        {"annotations": {"geometry": POLYGON, "fill_color": "#zz"}},
    ):
        response = post(client, images.rgb.path, "mask", body)
        assert response.status_code == 422, (body, response.text)
        assert set(response.json()) == {"title", "details"}
    assert post(client, images.rgb.path, "mask", {"annotations": "POINT (1 1"}).json()["title"] == (
        "Invalid geometry"
    )


def test_size_safety(client: TestClient, images: Images) -> None:
    body = {"annotations": POLYGON, "length": 4000}  # 4000x3000 > the 4 MP limit
    rejected = post(client, images.rgb.path, "mask", body)
    assert rejected.status_code == 400
    resized = post(client, images.rgb.path, "crop", body, X_Image_Size_Safety="SAFE_RESIZE")
    out = image(resized)
    assert out.shape[0] * out.shape[1] <= 4_000_000 and out.shape[1] > 2000
    assert "request_width=4000" in resized.headers["x-image-size-limit"]


@pytest.mark.parametrize(("ext", "accept", "media"), [
    (".jpg", None, "image/jpeg"), (".png", None, "image/png"), (".webp", None, "image/webp"),
    ("", "image/webp", "image/webp"), ("", "image/png", "image/png"), ("", None, "image/jpeg"),
])  # fmt: skip
def test_formats(
    client: TestClient, images: Images, ext: str, accept: str | None, media: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    for kind in ("mask", "crop", "drawing"):
        response = client.post(
            f"/image/{images.rgb.path}/annotation/{kind}{ext}",
            json={"annotations": POLYGON, "length": 100},
            headers=headers,
        )
        assert response.status_code == 200 and response.headers["content-type"] == media
        out = decode(response.content)
        assert out.shape[1] == 100
        if kind == "crop" and media != "image/jpeg":
            assert out.shape[2] == 4  # an alpha band where the format has one


def test_targets_planes_and_cache(client: TestClient, images: Images) -> None:
    level1 = image(post(client, images.rgb.path, "mask", {"annotations": POLYGON, "level": 1}))
    assert level1.shape[:2] == (150, 200)
    wide = image(post(client, images.rgb.path, "mask", {"annotations": POLYGON, "width": 80}))
    assert wide.shape[:2] == (60, 80)
    multi = post(
        client, images.multi.path, "crop",
        {"annotations": "POLYGON ((10 10, 90 10, 90 60, 10 10))", "channels": [1], "z_slices": 2},
    )  # fmt: skip
    assert image(multi).shape == (50, 80, 4)  # one channel keeps its colour (PIMS), + alpha
    bad = post(client, images.multi.path, "crop", {"annotations": POLYGON, "z_slices": 9})
    assert bad.status_code == 422
    first = post(client, images.rgb.path, "drawing", {"annotations": POLYGON, "length": 50})
    again = client.post(
        f"/image/{images.rgb.path}/annotation/drawing.png",
        json={"length": 50, "annotations": POLYGON},
        headers={"If-None-Match": f"W/{first.headers['etag']}"},
    )
    assert again.status_code == 304
    other = post(client, images.rgb.path, "drawing", {"annotations": POLYGON, "length": 50},
                 X_Annotation_Origin="LEFT_BOTTOM")  # fmt: skip
    assert other.headers["etag"] != first.headers["etag"]
    assert post(client, "upload-missing/x", "mask", {"annotations": POLYGON}).status_code == 404


coordinate = st.one_of(
    st.floats(-2000, 3000, allow_nan=False), st.sampled_from([0.0, 1e300, -1e300, 1e-300, 777.0])
)
point = st.tuples(coordinate, coordinate).map(lambda p: f"{p[0]!r} {p[1]!r}")
ring = st.lists(point, min_size=1, max_size=6).map(lambda ps: f"({', '.join([*ps, ps[0]])})")
wkt = st.one_of(
    point.map(lambda p: f"POINT ({p})"),
    st.lists(point, min_size=2, max_size=5).map(lambda ps: f"LINESTRING ({', '.join(ps)})"),
    st.lists(ring, min_size=1, max_size=3).map(lambda rs: f"POLYGON ({', '.join(rs)})"),
    st.text(max_size=20),
)
annotation = st.fixed_dictionaries(
    {"geometry": wkt},
    optional={
        "fill_color": st.sampled_from(["#fff", "red", "#12345678", "bad", None, 7]),
        "stroke_color": st.sampled_from(["#000", "rgba(1,2,3,0.5)", None]),
        "stroke_width": st.one_of(st.integers(-2, 12), st.none(), st.just("3")),
    },
)
body = st.fixed_dictionaries(
    {"annotations": st.lists(annotation, max_size=3)},
    optional={
        "length": st.one_of(st.integers(-1, 3000), st.just(0.5), st.none()),
        "level": st.integers(-1, 6),
        "context_factor": st.one_of(st.floats(-1, 1e6), st.none()),
        "try_square": st.booleans(),
        "background_transparency": st.integers(-5, 105),
        "point_cross": st.sampled_from(["CROSS", "CIRCLE", "X"]),
        "point_envelope_length": st.floats(-1, 1e7),
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(["mask", "crop", "drawing"]), payload=body)
def test_fuzzed_bodies_never_fail(
    client: TestClient, images: Images, kind: str, payload: dict
) -> None:
    response = post(client, images.grey.path, kind, payload, ".webp")
    assert response.status_code in (200, 400, 413, 422), response.text
    if response.status_code != 200:
        assert set(response.json()) == {"title", "details"}


def test_sixteen_bits_and_grey_images(client: TestClient, images: Images) -> None:
    triangle = "POLYGON ((10 10, 200 10, 10 150, 10 10))"
    crop = image(post(client, images.u16.path, "crop", {"annotations": triangle, "bits": "AUTO"}))
    assert crop.dtype == np.uint16 and crop.shape == (140, 190, 2)  # grey + alpha, 16 bits
    assert crop[5, 5, 1] == 65535 and crop[130, 180, 1] == 0
    webp = post(client, images.u16.path, "crop", {"annotations": triangle, "bits": "AUTO"}, ".webp")
    assert image(webp).dtype == np.uint8  # WebP has 8 bits
    grey = post(client, images.grey.path, "drawing", {"annotations": triangle})
    assert image(grey).shape == (140, 190, 3)  # red strokes make a grey image RGB
    white = post(
        client, images.grey.path, "drawing",
        {"annotations": {"geometry": triangle, "stroke_color": "#fff"}},
    )  # fmt: skip
    assert image(white).shape == (140, 190, 1)  # grey strokes keep it grey
    half = post(
        client, images.grey.path, "drawing",
        {"annotations": {"geometry": triangle, "fill_color": "#ffffff80", "stroke_color": "#fff"}},
    )  # fmt: skip
    plain = post(
        client,
        images.grey.path,
        "drawing",
        {"annotations": {"geometry": triangle, "stroke_color": "#fff"}},
    )
    inside = image(half)[40, 40, 0].astype(int), image(plain)[40, 40, 0].astype(int)
    assert abs(inside[0] - (inside[1] * 127 + 255 * 128) / 255) <= 1  # fill blended by alpha


level0 = st.tuples(st.integers(0, 1000), st.integers(0, 776))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=st.lists(level0, min_size=3, max_size=12, unique=True), length=st.integers(64, 600))
def test_random_masks_have_the_polygons_area(
    client: TestClient, images: Images, points: list[tuple[int, int]], length: int
) -> None:
    """A mask's filled area is the polygon's area at the output's scale (within 1% for areas of
    a few thousand pixels), and its pixels are those whose centre the polygon contains."""
    import shapely

    polygon = shapely.MultiPoint(points).convex_hull
    assume(polygon.geom_type == "Polygon" and polygon.area >= 100)
    response = post(client, images.rgb.path, "mask", {"annotations": polygon.wkt, "length": length})
    mask = image(response)[..., 0] > 0
    x0, y0, x1, y1 = polygon.bounds
    sx, sy = (
        mask.shape[1] / (np.ceil(x1) - np.floor(x0)),
        mask.shape[0] / (np.ceil(y1) - np.floor(y0)),
    )
    placed = shapely.affinity.affine_transform(
        polygon, [sx, 0, 0, sy, -np.floor(x0) * sx, -np.floor(y0) * sy]
    )
    ys, xs = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]] + 0.5
    # centres within 1e-6 of the boundary may go either way (float arithmetic)
    assert not (shapely.contains_xy(placed.buffer(-1e-6), xs, ys) & ~mask).any()
    assert not (mask & ~shapely.intersects_xy(placed.buffer(1e-6), xs, ys)).any()
    if placed.area > 3000:
        assert abs(mask.sum() - placed.area) / placed.area < 0.01


def test_without_shapely_501(
    client: TestClient, images: Images, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "shapely", None)  # `import shapely` raises ImportError
    response = post(client, images.rgb.path, "mask", {"annotations": POLYGON})
    assert response.status_code == 501 and "annotation-api" in response.json()["details"]
