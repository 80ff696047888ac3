"""Annotation parsing: every WKT geometry type, repairs and refusals, origins, colours, and
the envelope (context factor, square, points, inside the image)."""

from __future__ import annotations

import pytest
import shapely

from cytotile.annotations.colors import Color, parse_color
from cytotile.annotations.geometry import (
    DRAWING_DEFAULTS,
    MASK_DEFAULTS,
    Defaults,
    InvalidGeometry,
    Origin,
    envelope,
    parse_annotations,
    parse_geometry,
    parse_origin,
)
from cytotile.errors import BadParameter

ALL_TYPES = [
    "POINT (10 20)",
    "LINESTRING (0 0, 10 10, 20 5)",
    "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 4 2, 4 4, 2 4, 2 2))",
    "MULTIPOINT ((1 1), (5 5))",
    "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
    "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
    "GEOMETRYCOLLECTION (POINT (1 1), LINESTRING (0 0, 2 2), POLYGON ((3 3, 4 3, 4 4, 3 3)))",
]


@pytest.mark.parametrize("wkt", ALL_TYPES)
def test_every_type_parses(wkt: str) -> None:
    geom = parse_geometry(wkt, Origin.LEFT_TOP, 100, "g")
    assert geom.equals(shapely.from_wkt(wkt))


def test_invalid_polygon_is_repaired() -> None:
    bowtie = "POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))"
    geom = parse_geometry(bowtie, Origin.LEFT_TOP, 100, "g")
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and geom.area == pytest.approx(50)


@pytest.mark.parametrize(
    ("wkt", "reason"),
    [
        ("POLYGON ((0 0, 10 10", "unreadable WKT"),
        ("CIRCLE (1 2 3)", "unreadable WKT"),
        ("POLYGON EMPTY", "empty"),
        ("", "a WKT string"),
        (42, "a WKT string"),
        ("POINT (nan 1)", "finite"),
    ],
)
def test_refused_geometries(wkt: object, reason: str) -> None:
    with pytest.raises(InvalidGeometry, match=reason):
        parse_geometry(wkt, Origin.LEFT_TOP, 100, "g")


def test_left_bottom_flips_y() -> None:
    geom = parse_geometry("LINESTRING (1 0, 2 30)", Origin.LEFT_BOTTOM, 100, "g")
    assert list(geom.coords) == [(1.0, 100.0), (2.0, 70.0)]
    assert (
        parse_origin(None) is Origin.LEFT_TOP and parse_origin(" left_bottom") is Origin.LEFT_BOTTOM
    )
    with pytest.raises(BadParameter, match="X-Annotation-Origin"):
        parse_origin("RIGHT_TOP")


def test_annotations_fields_and_defaults() -> None:
    raw = [
        {"geometry": "POINT (1 1)", "fill_color": "#ff0000", "stroke_width": 4},
        {"geometry": "POINT (2 2)", "stroke_color": None},
    ]
    mask = parse_annotations(raw, origin=Origin.LEFT_TOP, l0_height=10, defaults=MASK_DEFAULTS)
    assert mask[0].fill == Color(255, 0, 0) and mask[0].stroke_width == 4
    assert mask[1].fill == Color(255, 255, 255) and mask[1].stroke is None
    drawing = parse_annotations(
        raw[1], origin=Origin.LEFT_TOP, l0_height=10, defaults=DRAWING_DEFAULTS
    )
    assert drawing[0].stroke == Color(255, 0, 0) and drawing[0].fill is None
    crop = parse_annotations(
        raw, origin=Origin.LEFT_TOP, l0_height=10, defaults=Defaults(), keep_fill=False
    )
    assert crop[0].fill is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "at least one"),
        ([], "at least one"),
        ([{"fill_color": "#fff"}], "geometry"),
        ([3], "an object"),
        ([{"geometry": "POINT (1 1)", "stroke_width": 11}], "stroke_width"),
        ([{"geometry": "POINT (1 1)", "fill_color": "#12"}], "fill_color"),
    ],
)
def test_bad_annotations(raw: object, message: str) -> None:
    with pytest.raises(BadParameter, match=message):
        parse_annotations(raw, origin=Origin.LEFT_TOP, l0_height=10, defaults=MASK_DEFAULTS)


@pytest.mark.parametrize(
    ("text", "color"),
    [
        ("#fff", Color(255, 255, 255)),
        ("#FF000080", Color(255, 0, 0, 128)),
        ("0x00ff00", Color(0, 255, 0)),
        ("#1234", Color(0x11, 0x22, 0x33, 0x44)),
        ("rgb(1, 2, 3)", Color(1, 2, 3)),
        ("rgba(1,2,3,0.5)", Color(1, 2, 3, 128)),
        ("Black", Color(0, 0, 0)),
        (0xFF000080, Color(255, 0, 0, 128)),
    ],
)
def test_colors(text: object, color: Color) -> None:
    assert parse_color("c", text) == color


@pytest.mark.parametrize("text", ["#ggg", "rgb(1,2)", "rgb(1,2,300)", "nocolour", True, 1.5, -1])
def test_bad_colors(text: object) -> None:
    with pytest.raises(BadParameter):
        parse_color("c", text)


def annots(*wkts: str) -> list:
    return parse_annotations(
        list(wkts), origin=Origin.LEFT_TOP, l0_height=1000, defaults=MASK_DEFAULTS
    )


def test_envelope() -> None:
    box = annots("POLYGON ((100 200, 300 200, 300 300, 100 300, 100 200))")
    env = envelope(box, 1000, 1000)
    assert (env.left, env.top, env.right, env.bottom) == (100, 200, 300, 300)
    env = envelope(box, 1000, 1000, context_factor=1.5)
    assert (env.left, env.top, env.right, env.bottom) == (50, 175, 350, 325)
    env = envelope(box, 1000, 1000, try_square=True)
    assert (env.left, env.top, env.right, env.bottom) == (100, 150, 300, 350)
    env = envelope(annots("POINT (500 500)"), 1000, 1000, point_envelope=40)
    assert (env.left, env.top, env.right, env.bottom) == (480, 480, 520, 520)
    env = envelope(box, 250, 280, context_factor=3)  # larger than the image: moved, then cut
    assert (env.left, env.top, env.right, env.bottom) == (0, 0, 250, 280)
    env = envelope(annots("LINESTRING (10 20, 60 20)"), 1000, 1000)
    assert env.bottom - env.top == 1  # a horizontal line still has a row


def test_coordinates_are_bounded() -> None:
    with pytest.raises(InvalidGeometry, match="within"):
        parse_geometry("POINT (1e300 1)", Origin.LEFT_TOP, 100, "g")
