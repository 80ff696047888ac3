"""The OpenAPI description of the annotation routes and of a window's annotation members
(docs/openapi.md: routes describe themselves next to their definition)."""

from __future__ import annotations

from cytotile.annotations.output import Mode
from cytotile.api import openapi_ops as ops
from cytotile.api.openapi import INTEGER, Op, Param

POINT_CROSSES = ("CROSS", "CROSSHAIR", "CIRCLE")
ANNOTATION = {
    "type": "object",
    "properties": {
        "geometry": {"type": "string", "description": "WKT, level-0 pixels"},
        "fill_color": {"type": "string", "description": "#rrggbb[aa], rgb(a)(), a name"},
        "stroke_color": {"type": "string"},
        "stroke_width": {"type": "integer", "minimum": 0, "maximum": 10},
    },
    "required": ["geometry"],
}
ANNOTATIONS = Param(
    "annotations",
    {"oneOf": [ANNOTATION, {"type": "array", "items": ANNOTATION}]},
    "one annotation or a list",
)
ORIGIN = Param(
    "X-Annotation-Origin",
    {"type": "string", "enum": ["LEFT_TOP", "LEFT_BOTTOM"]},
    "the annotations' coordinates: y down (default), or y up (Cytomine's)",
    where="header",
)
CROSS_SCHEMA = {"type": "string", "enum": list(POINT_CROSSES)}
STYLE_SCHEMA = {
    "type": "object",
    "properties": {
        "mode": {"type": "string", "enum": [m.value for m in Mode]},
        "background_transparency": {"type": "integer", "minimum": 0, "maximum": 100},
        "point_cross": CROSS_SCHEMA,
        "point_envelope_length": {"type": "number", "minimum": 1},
    },
    "required": ["mode"],
}
#: what a window body adds to draw annotations (the window's own description lists them)
WINDOW_PARAMS = (
    ANNOTATIONS,
    Param("annotation_style", STYLE_SCHEMA, "how annotations are drawn (default DRAWING)"),
    ORIGIN,
)
_COMMON = (
    ANNOTATIONS,
    Param("context_factor", {"type": "number", "exclusiveMinimum": 0}, "envelope scale"),
    Param("point_envelope_length", {"type": "number", "minimum": 1}, "a point's envelope"),
    *ops.SIZE,
    *ops.TIERS,
    ops.SAFETY,
    ORIGIN,
)
_STATUSES = {304: "Not modified", 413: "Over the memory budget of one request"}
DOCS = {
    Mode.MASK: Op(
        "Annotation mask: the geometries filled with their fill_color (white) on black",
        tags=["annotations"], returns="image", query=_COMMON, statuses=_STATUSES,
    ),
    Mode.CROP: Op(
        "Annotation crop: the envelope's window, transparent outside the geometries",
        tags=["annotations"], returns="image", statuses=_STATUSES,
        query=(*_COMMON, Param("background_transparency", {**INTEGER, "maximum": 100}),
               *ops.PLANES, *ops.MANIPULATION, *ops.GENERAL),
    ),
    Mode.DRAWING: Op(
        "Annotation drawing: the envelope's window with fills and strokes painted on it",
        tags=["annotations"], returns="image", statuses=_STATUSES,
        query=(*_COMMON, Param("try_square", {"type": "boolean"}),
               Param("point_cross", CROSS_SCHEMA),
               *ops.PLANES, *ops.MANIPULATION),
    ),
}  # fmt: skip
