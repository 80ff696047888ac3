"""Rasterization on the output grid, vectorized with numpy (no per-pixel Python).

A pixel (col, row) is inside a shape when its centre (col + 0.5, row + 0.5) is, by the even-odd
rule over every ring of the shape (holes are rings too). The scanline fill computes, for every
edge, its crossings with the rows' centre lines, sorts them by (row, x), pairs them into spans
and fills the spans with a difference array and a cumulative sum: the cost grows with the rows
an edge spans and the pixels filled, never with Python loops over pixels. The expected filled
area is the shape's area (centre sampling has no bias).

Lines and points have no area: ``areal`` turns them into shapes first (a 1-pixel-wide band; the
pixel under a point), and strokes are buffers of contours (``stroke``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from shapely.geometry.base import BaseGeometry

MARKER_ARM = 10.0  # output pixels: half the length of a point's cross
MARKER_RADIUS = 6.0  # of a point's circle
MARKER_GAP = 3.0  # the crosshair's empty centre


def fill(shape: BaseGeometry, width: int, height: int) -> np.ndarray:
    """(height, width) bool: the pixels whose centre is inside the polygons of ``shape``."""
    import numpy as np
    import shapely

    mask = np.zeros((height, width), dtype=bool)
    polygons = [g for g in shapely.get_parts(shape) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons or shape.is_empty:
        return mask
    rings = shapely.get_rings(shapely.get_parts(np.asarray(polygons, dtype=object)))
    coords, index = shapely.get_coordinates(rings, return_index=True)
    same = index[:-1] == index[1:]  # consecutive vertices of one (closed) ring: an edge
    (x0, y0), (x1, y1) = coords[:-1][same].T, coords[1:][same].T
    # rows whose centre line y = row + 0.5 satisfies min(y) <= y < max(y) (half-open: a vertex
    # on a centre line counts once), clipped to the grid
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    first = np.clip(np.ceil(lo - 0.5), 0, height).astype(np.int64)
    last = np.clip(np.ceil(hi - 0.5), 0, height).astype(np.int64)  # exclusive
    counts = np.maximum(last - first, 0)
    total = int(counts.sum())
    if total == 0:
        return mask
    edge = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    rows = first[edge] + (np.arange(total) - starts[edge])
    yc = rows + 0.5
    slope = (x1 - x0)[edge] / (y1 - y0)[edge]
    xs = x0[edge] + (yc - y0[edge]) * slope
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    span_rows = rows[0::2]
    c0 = np.clip(np.ceil(xs[0::2] - 0.5), 0, width).astype(np.int64)
    c1 = np.clip(np.ceil(xs[1::2] - 0.5), 0, width).astype(np.int64)
    keep = c1 > c0
    r0, c0, c1 = span_rows[keep], c0[keep], c1[keep]
    if r0.size == 0:
        return mask
    top, bottom = int(r0.min()), int(r0.max()) + 1  # work in the spans' bounding rows only
    left, right = int(c0.min()), int(c1.max())
    # spans of a row are disjoint and sorted: their starts are distinct, and so are their ends,
    # so two unbuffered fancy-index updates accumulate exactly (int8: 1 byte a pixel)
    diff = np.zeros((bottom - top, right - left + 1), dtype=np.int8)
    diff[r0 - top, c0 - left] += 1
    diff[r0 - top, c1 - left] -= 1
    inside = np.cumsum(diff, axis=1, dtype=np.int8)[:, : right - left]
    mask[top:bottom, left:right] = inside > 0
    return mask


def areal(geometry: BaseGeometry) -> BaseGeometry:
    """The geometry as polygons: polygons as they are, lines as 1-pixel-wide bands, points as
    the pixel-sized square around them (output coordinates)."""
    import shapely

    parts = shapely.get_parts(shapely.get_parts(geometry))  # collections and multi-parts
    shapes = []
    for part in parts:
        kind = part.geom_type
        if kind == "Polygon":
            shapes.append(part)
        elif kind in ("LineString", "LinearRing"):
            shapes.append(shapely.buffer(part, 0.5, cap_style="square", join_style="mitre"))
        elif kind == "Point":
            shapes.append(shapely.buffer(part, 0.5, cap_style="square"))
    if len(shapes) == 1:
        return shapes[0]
    return shapely.union_all(shapes) if shapes else shapely.GeometryCollection()


def contour(geometry: BaseGeometry, point_style: str = "CROSS") -> BaseGeometry:
    """What a drawing strokes: polygon boundaries, lines, and markers for points (output
    coordinates: markers keep their size whatever the zoom)."""
    import shapely

    pieces = []
    for part in shapely.get_parts(shapely.get_parts(geometry)):
        kind = part.geom_type
        if kind == "Polygon":
            pieces.append(part.boundary)
        elif kind in ("LineString", "LinearRing"):
            pieces.append(part)
        elif kind == "Point":  # centred on the pixel under the point: crisp 1-pixel lines
            pieces.append(marker(math.floor(part.x) + 0.5, math.floor(part.y) + 0.5, point_style))
    return shapely.GeometryCollection(pieces)


def marker(x: float, y: float, style: str) -> BaseGeometry:
    import shapely

    circle = shapely.Point(x, y).buffer(MARKER_RADIUS).boundary
    arm, gap = MARKER_ARM, MARKER_GAP
    if style == "CIRCLE":
        return circle
    if style == "CROSSHAIR":
        lines = [
            [(x - arm, y), (x - gap, y)],
            [(x + gap, y), (x + arm, y)],
            [(x, y - arm), (x, y - gap)],
            [(x, y + gap), (x, y + arm)],
        ]
        return shapely.GeometryCollection([circle, shapely.MultiLineString(lines)])
    return shapely.MultiLineString([[(x - arm, y), (x + arm, y)], [(x, y - arm), (x, y + arm)]])


def stroke(geometry: BaseGeometry, width: int, point_style: str = "CROSS") -> BaseGeometry:
    """The band of ``width`` output pixels (at least 1) centred on the geometry's contour."""
    import shapely

    line = contour(geometry, point_style)
    return shapely.buffer(line, max(1, width) / 2, cap_style="square", join_style="mitre")
