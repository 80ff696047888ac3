"""The scanline rasterizer: known shapes give known pixels, and random polygons fill their
shapely area (centre sampling)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import assume, given
from hypothesis import strategies as st

from cytotile.annotations import raster


def centres_inside(shape: shapely.Geometry, width: int, height: int) -> np.ndarray:
    """The reference: shapely's own containment test of every pixel centre."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    return shapely.contains_xy(shape, xs, ys)


def assert_matches_shapely(mask: np.ndarray, shape: shapely.Geometry) -> None:
    """Every centre inside is filled, none outside is (a centre on the boundary, to
    floating-point precision, may go either way)."""
    ys, xs = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]] + 0.5
    inside = shapely.contains_xy(shape, xs, ys)
    with np.errstate(all="ignore"):  # GEOS on slivers of random polygons (the reference only)
        on_boundary = shapely.distance(shape.boundary, shapely.points(xs, ys)) < 1e-9
    assert not (inside & ~mask & ~on_boundary).any()
    assert not (mask & ~inside & ~on_boundary).any()


def test_rectangle_on_pixel_edges() -> None:
    mask = raster.fill(shapely.box(2, 3, 7, 5), 10, 8)
    expected = np.zeros((8, 10), bool)
    expected[3:5, 2:7] = True
    np.testing.assert_array_equal(mask, expected)


def test_hole_is_empty() -> None:
    outer = [(0, 0), (20, 0), (20, 20), (0, 20)]
    hole = [(5, 5), (15, 5), (15, 15), (5, 15)]
    mask = raster.fill(shapely.Polygon(outer, [hole]), 20, 20)
    assert not mask[5:15, 5:15].any()
    assert mask[:5].all() and mask[15:].all() and mask[:, :5].all() and mask[:, 15:].all()
    assert mask.sum() == 400 - 100


def test_multipolygon_and_clipping() -> None:
    shape = shapely.MultiPolygon([shapely.box(-5, -5, 3, 3), shapely.box(8, 8, 30, 12)])
    mask = raster.fill(shape, 10, 10)
    np.testing.assert_array_equal(mask, centres_inside(shape, 10, 10))
    assert mask[:3, :3].all() and mask[8:, 8:].all() and mask.sum() == 9 + 4


def test_triangle_matches_shapely_containment() -> None:
    shape = shapely.Polygon([(1.3, 0.2), (30.7, 12.9), (4.1, 27.6)])
    assert_matches_shapely(raster.fill(shape, 32, 30), shape)


def test_lines_points_collections_and_empty() -> None:
    assert not raster.fill(shapely.LineString([(0, 0), (5, 5)]), 8, 8).any()  # no area
    band = raster.cover(shapely.LineString([(0, 4.2), (8, 4.2)]), 8, 8)
    assert band.sum() == 8 and band[4].all()  # one pixel per column
    dot = raster.cover(shapely.Point(3.7, 2.2), 8, 8)
    assert dot.sum() == 1 and dot[2, 3]
    assert not raster.fill(shapely.Polygon(), 4, 4).any()
    overlapping = shapely.GeometryCollection([shapely.box(0, 0, 6, 6), shapely.box(3, 3, 8, 8)])
    assert raster.cover(overlapping, 8, 8).sum() == 36 + 25 - 9  # the overlap stays filled
    nested = shapely.GeometryCollection([overlapping, shapely.MultiPoint([(7.5, 0.5)])])
    assert raster.cover(nested, 8, 8).sum() == 36 + 25 - 9 + 1


@pytest.mark.parametrize("width", [1, 2, 3, 6])
def test_stroke_width(width: int) -> None:
    """A horizontal edge stroked ``width`` pixels wide covers ``width`` rows."""
    square = shapely.box(10, 10, 30, 30)
    mask = raster.stroke(square, width, 40, 40)
    column = mask[:, 20]  # crosses the top and bottom edges only
    band = [r for r in range(40) for edge in (10, 30) if abs(r + 0.5 - edge) <= width / 2]
    expected = [r for r in band if r + 0.5 < (10 if r < 20 else 30) + width / 2]
    assert list(np.nonzero(column)[0]) == expected
    assert column.sum() == 2 * width
    assert not mask[10 + width : 30 - width, 10 + width : 30 - width].any()  # not filled


@pytest.mark.parametrize("style", ["CROSS", "CROSSHAIR", "CIRCLE"])
def test_point_markers(style: str) -> None:
    mask = raster.stroke(shapely.Point(20, 20), 1, 40, 40, style)
    assert mask.any()
    assert mask[20, 20] == (style == "CROSS")  # the crosshair and circle leave the point visible
    ys, xs = np.nonzero(mask)
    assert ys.min() >= 20 - raster.MARKER_ARM - 1 and ys.max() <= 20 + raster.MARKER_ARM
    assert xs.min() >= 20 - raster.MARKER_ARM - 1 and xs.max() <= 20 + raster.MARKER_ARM


coords = st.floats(min_value=-5, max_value=70, allow_nan=False)


@given(st.lists(st.tuples(coords, coords), min_size=3, max_size=12))
def test_random_polygons_fill_their_area(points: list[tuple[float, float]]) -> None:
    try:
        with np.errstate(all="ignore"):  # GEOS on degenerate random rings (the input's repair)
            repaired = shapely.make_valid(shapely.Polygon(points))
    except shapely.errors.GEOSException:
        assume(False)  # a ring GEOS itself cannot repair: no reference to compare with
    shape = shapely.MultiPolygon([p for p in raster.leaves(repaired) if p.geom_type == "Polygon"])
    mask = raster.fill(shape, 64, 64)  # a valid repair's polygons do not overlap
    assert_matches_shapely(mask, shape)
    # the filled area is shapely's: off by at most the pixels the boundary crosses (a pixel
    # wholly inside or outside counts exactly; a thin or slanted shape has many crossed ones)
    clipped = shape.intersection(shapely.box(0, 0, 64, 64)).area
    ys, xs = np.mgrid[0:64, 0:64]
    with np.errstate(all="ignore"):
        crossed = shapely.intersects(shape.boundary, shapely.box(xs, ys, xs + 1, ys + 1)).sum()
    assert abs(int(mask.sum()) - clipped) <= crossed
