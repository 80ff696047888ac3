"""Rasterization on the output grid, vectorized with numpy (no per-pixel Python).

A pixel (col, row) is inside a shape when its centre (col + 0.5, row + 0.5) is, by the even-odd
rule over every ring of the shape (holes are rings too). The scanline fill computes, for every
edge, its crossings with the rows' centre lines, sorts them by (row, x), pairs them into spans
and fills the spans with a difference array and a cumulative sum: the cost grows with the rows
an edge spans and the pixels filled, never with Python loops over pixels. The expected filled
area is the shape's area (centre sampling has no bias).

Lines and points have no area: ``cover`` turns them into shapes first (a 1-pixel-wide band;
the pixel under a point), and strokes are buffers of contours (``stroke``).
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


def fill(shape: BaseGeometry, width: int, height: int, out: np.ndarray | None = None) -> np.ndarray:
    """(height, width) bool: the pixels whose centre is inside the polygons of ``shape`` (even-
    odd over all their rings: the polygons must not overlap, as in a valid MultiPolygon), added
    to ``out`` when given."""
    import numpy as np
    import shapely

    mask = np.zeros((height, width), dtype=bool) if out is None else out
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
    mask[top:bottom, left:right] |= inside > 0
    return mask


def leaves(geometry: BaseGeometry) -> list[BaseGeometry]:
    """The simple parts of a geometry, however deeply its collections nest."""
    import shapely

    out, todo = [], [geometry]
    while todo:
        g = todo.pop()
        parts = shapely.get_parts(g)
        if (
            len(parts) == 1
            and parts[0].geom_type == g.geom_type
            and not g.geom_type.startswith(("Multi", "GeometryCollection"))
        ):
            out.append(g)
        else:
            todo.extend(parts)
    return [g for g in out if not g.is_empty]


def cover(
    geometry: BaseGeometry, width: int, height: int, out: np.ndarray | None = None
) -> np.ndarray:
    """The pixels of any geometry: polygons filled (each on its own, so overlapping parts of a
    collection stay filled: no union, which GEOS may refuse), lines as 1-pixel-wide bands,
    points as the pixel under them (output coordinates)."""
    import numpy as np
    import shapely

    mask = np.zeros((height, width), dtype=bool) if out is None else out
    for part in leaves(geometry):
        kind = part.geom_type
        if kind in ("LineString", "LinearRing"):
            part = shapely.buffer(part, 0.5, cap_style="square", join_style="mitre")
        elif kind == "Point":
            part = shapely.buffer(part, 0.5, cap_style="square")
        fill(part, width, height, mask)
    return mask


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


def stroke(
    geometry: BaseGeometry, stroke_width: int, width: int, height: int, point_style: str = "CROSS"
) -> np.ndarray:
    """The band of ``stroke_width`` output pixels (at least 1) centred on the geometry's
    contour, each piece buffered and filled on its own (no union)."""
    import numpy as np
    import shapely

    mask = np.zeros((height, width), dtype=bool)
    half = max(1, stroke_width) / 2
    for piece in leaves(contour(geometry, point_style)):
        band = shapely.buffer(piece, half, cap_style="square", join_style="mitre")
        fill(band, width, height, mask)
    return mask
