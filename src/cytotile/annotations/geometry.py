"""Annotations as the outputs see them: WKT geometries (level-0 pixels, y down), colours, stroke
widths, and the region they cover.

Parsing follows PIMS: one annotation or a list; ``fill_color`` / ``stroke_color`` / ``stroke_width``
each; an invalid geometry is repaired with ``make_valid`` (a self-intersecting polygon becomes
the polygons it outlines), one that cannot be read or repaired is refused with a reason.
``LEFT_BOTTOM`` (Cytomine's y-up coordinates) is flipped to image coordinates: ``y -> H - y``
(the exact mirror of the image plane; PIMS uses ``H - 0.5 - y``, half a pixel off).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cytotile.annotations.colors import WHITE, Color, parse_color
from cytotile.errors import BadParameter

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

MAX_ANNOTATIONS = 1000
MAX_STROKE_WIDTH = 10  # PIMS's bound
MAX_COORDINATE = 1e10  # beyond any image (level-0 pixels): keeps the arithmetic finite


class InvalidGeometry(BadParameter):
    title = "Invalid geometry"


class Origin(StrEnum):
    LEFT_TOP = "LEFT_TOP"
    LEFT_BOTTOM = "LEFT_BOTTOM"


def parse_origin(header: str | None) -> Origin:
    if not header or not header.strip():
        return Origin.LEFT_TOP
    try:
        return Origin(header.strip().upper())
    except ValueError:
        raise BadParameter(
            f"X-Annotation-Origin: {header!r} is not one of LEFT_TOP, LEFT_BOTTOM"
        ) from None


@dataclass(frozen=True)
class Annotation:
    """One geometry in level-0 image coordinates (y down) and how it is drawn."""

    geometry: BaseGeometry
    fill: Color | None = None
    stroke: Color | None = None
    stroke_width: int = 1

    @property
    def is_point(self) -> bool:
        return bool(self.geometry.geom_type == "Point")


@dataclass(frozen=True)
class Defaults:
    """What an annotation lacks: a mask fills in white, a drawing strokes in red."""

    fill: Color | None = None
    stroke: Color | None = None


MASK_DEFAULTS = Defaults(fill=WHITE)
DRAWING_DEFAULTS = Defaults(stroke=Color(255, 0, 0))


def parse_geometry(wkt: Any, origin: Origin, l0_height: int, name: str) -> BaseGeometry:
    import shapely
    from shapely.errors import ShapelyError

    if not isinstance(wkt, str) or not wkt.strip():
        raise InvalidGeometry(f"{name}: a WKT string is expected, got {wkt!r}")
    try:
        geom = shapely.from_wkt(wkt)
    except (ShapelyError, ValueError) as exc:
        raise InvalidGeometry(f"{name}: unreadable WKT ({exc})") from None
    if geom is None or geom.is_empty:
        raise InvalidGeometry(f"{name}: the geometry is empty")
    largest = float(abs(shapely.get_coordinates(geom)).max())
    if not math.isfinite(largest) or largest > MAX_COORDINATE:
        raise InvalidGeometry(f"{name}: coordinates must be finite, within ±{MAX_COORDINATE:g}")
    if origin is Origin.LEFT_BOTTOM:
        geom = shapely.transform(geom, lambda xy: xy * (1.0, -1.0) + (0.0, float(l0_height)))
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        try:
            geom = shapely.make_valid(geom)
        except ShapelyError:
            geom = shapely.GeometryCollection()
        if geom.is_empty or not geom.is_valid:
            raise InvalidGeometry(f"{name}: invalid geometry that cannot be repaired ({reason})")
    return geom


def parse_annotations(
    raw: Any, *, origin: Origin, l0_height: int, defaults: Defaults, keep_fill: bool = True
) -> list[Annotation]:
    """``annotations`` of a request body. ``keep_fill``: honour ``fill_color`` (a crop ignores
    colours altogether; a drawing fills only when a colour is given)."""
    items = raw if isinstance(raw, list) else [raw]
    if not items or raw is None:
        raise BadParameter("annotations: at least one annotation is required")
    if len(items) > MAX_ANNOTATIONS:
        raise BadParameter(f"annotations: {len(items)} given, at most {MAX_ANNOTATIONS}")
    out = []
    for k, item in enumerate(items):
        name = f"annotations[{k}]"
        if isinstance(item, str):  # a bare WKT string
            item = {"geometry": item}
        if not isinstance(item, dict):
            raise BadParameter(f"{name}: an object with a geometry is expected")
        geometry = parse_geometry(item.get("geometry"), origin, l0_height, f"{name}.geometry")
        fill = _color(item, "fill_color", name) if keep_fill else None
        stroke = _color(item, "stroke_color", name)
        width = _stroke_width(item.get("stroke_width"), name)
        out.append(Annotation(geometry, fill or defaults.fill, stroke or defaults.stroke, width))
    return out


def _color(item: dict[str, Any], key: str, name: str) -> Color | None:
    value = item.get(key)
    return None if value is None else parse_color(f"{name}.{key}", value)


def _stroke_width(value: Any, name: str) -> int:
    from cytotile.pipeline.args import to_int

    if value is None:
        return 1
    return to_int(f"{name}.stroke_width", value, 0, MAX_STROKE_WIDTH)


@dataclass(frozen=True)
class Envelope:
    """A rectangle in level-0 coordinates (floats)."""

    left: float
    top: float
    right: float
    bottom: float


def envelope(
    annotations: list[Annotation],
    l0_width: int,
    l0_height: int,
    *,
    context_factor: float = 1.0,
    try_square: bool = False,
    point_envelope: float = 100.0,
) -> Envelope:
    """The rectangular envelope of all geometries (a point counts as a square of side
    ``point_envelope``), scaled about its centre by ``context_factor``, made square when asked,
    then moved (not cropped, as PIMS) inside the image."""
    import numpy as np

    bounds = []
    for a in annotations:
        x0, y0, x1, y1 = a.geometry.bounds
        if a.is_point:
            half = point_envelope / 2
            x0, y0, x1, y1 = x0 - half, y0 - half, x1 + half, y1 + half
        bounds.append((x0, y0, x1, y1))
    b = np.asarray(bounds)
    left, top, right, bottom = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    width, height = right - left, bottom - top
    if width < 1:  # a vertical line: one pixel wide
        left, width = left - (1 - width) / 2, 1.0
    if height < 1:
        top, height = top - (1 - height) / 2, 1.0
    # grown about the centre, as PIMS: exact (no rounding) when nothing grows
    left, width = left - width * (context_factor - 1) / 2, width * context_factor
    top, height = top - height * (context_factor - 1) / 2, height * context_factor
    if try_square and width != height:
        side = max(width, height)
        left, top = left - (side - width) / 2, top - (side - height) / 2
        width = height = side
    width, height = min(width, l0_width), min(height, l0_height)
    left = min(max(left, 0.0), l0_width - width)
    top = min(max(top, 0.0), l0_height - height)
    return Envelope(float(left), float(top), float(left + width), float(top + height))
