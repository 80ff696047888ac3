"""Shared parameter descriptions (PIMS's names and meanings), and the descriptions of routes
written before routes carried their own (keyed by pattern). New routes describe themselves
next to their definition (``route(..., doc=Op(...))``, docs/openapi.md); a route found in both
places uses its own."""

from __future__ import annotations

from typing import Any

from cytotile.api.openapi import INTEGER, Op, Param

INTS = {"type": "array", "items": INTEGER}
NUMBER_OR_MODE = {
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": 65535},
        {"type": "string", "enum": ["AUTO_IMAGE", "AUTO_PLANE", "STRETCH_IMAGE", "STRETCH_PLANE"]},
    ]
}
REDUCTION = {"type": "string", "enum": ["ADD", "MIN", "MED", "MAX"]}
LENGTH = {
    "oneOf": [
        {"type": "integer", "minimum": 1},
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    ]
}
PLANES = (
    Param("channels", INTS, "channel indexes (default: all)"),
    Param("z_slices", INTS, "focal planes (default: the median one; several are reduced)"),
    Param("timepoints", INTS, "timepoints (default: the first; several are reduced)"),
    Param("c_reduction", REDUCTION, "how channels combine (ADD)"),
    Param("z_reduction", REDUCTION, "how focal planes reduce (default MAX)"),
    Param("t_reduction", REDUCTION, "how timepoints reduce (default MAX)"),
)
MANIPULATION = (
    Param("min_intensities", {"type": "array", "items": NUMBER_OR_MODE}, "per channel"),
    Param("max_intensities", {"type": "array", "items": NUMBER_OR_MODE}, "per channel"),
    Param("gammas", {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 10}}),
    Param("log", {"type": "boolean"}, "logarithmic intensities"),
    Param("colormaps", {"type": "array", "items": {"type": "string"}}, "GET /colormaps"),
    Param("filters", {"type": "array", "items": {"type": "string"}}, "GET /filters"),
)
GENERAL = (
    Param("bits", {"oneOf": [{"type": "integer", "enum": [8, 16]}, {"enum": ["AUTO", "MAX"]}]}),
    Param("colorspace", {"type": "string", "enum": ["AUTO", "GRAY", "COLOR"]}),
)
SIZE = (
    Param("length", LENGTH, "longest side (pixels, or a fraction of the source's)"),
    Param("width", LENGTH, "width (pixels, or a fraction)"),
    Param("height", LENGTH, "height (pixels, or a fraction)"),
)
TIERS = (Param("zoom", INTEGER), Param("level", INTEGER))
SAFETY = Param(
    "X-Image-Size-Safety",
    {"type": "string", "enum": ["SAFE_REJECT", "SAFE_RESIZE", "UNSAFE"]},
    "an answer over the size limit or the memory budget: refused (400/413) or shrunk",
    where="header",
)
TILE_BODY = (
    Param("ti", INTEGER),
    Param("tx", INTEGER),
    Param("ty", INTEGER),
)
REGION: dict[str, Any] = {
    "type": "object",
    "properties": {k: INTEGER for k in ("left", "top", "width", "height")},
    "required": ["left", "top", "width", "height"],
}
WINDOW = (
    Param("region", REGION, "the window, in pixels of the reference tier"),
    Param("tier_index_type", {"type": "string", "enum": ["LEVEL", "ZOOM"]}),
    Param("reference_tier_index", INTEGER),
    *TILE_BODY,
)

IMAGE_TAGS = ["image"]
INFO_TAGS = ["info"]


def _info(summary: str, **kw: Any) -> Op:
    return Op(summary, tags=INFO_TAGS, **kw)


def _histogram(summary: str) -> Op:
    return Op(summary, tags=["histograms"])


ASSOCIATED = {"kind": {"type": "string", "enum": ["thumb", "label", "macro"]}}
#: descriptions of routes that do not carry their own yet, by pattern
KNOWN: dict[str, Op] = {
    "/image/{path}/info": _info("Everything about an image"),
    "/image/{path}/info/image": _info("Image dimensions, pixel type, physical sizes"),
    "/image/{path}/info/channels": _info("Channels"),
    "/image/{path}/info/normalized-pyramid": _info("The normalized pyramid's tiers"),
    "/image/{path}/info/instrument": _info("Microscope and objective"),
    "/image/{path}/info/associated": _info("Associated images"),
    "/image/{path}/info/representations": _info("Representations (upload, original, spatial)"),
    "/image/{path}/info/representations/{role}": _info(
        "One representation",
        path_schemas={"role": {"type": "string", "enum": ["UPLOAD", "ORIGINAL", "SPATIAL"]}},
    ),
    "/image/{path}/metadata": _info("Raw metadata of the file"),
    "/file/{path}/info": Op("A file of an upload", tags=["files"]),
    "/image/{path}/histogram/per-image": _histogram("Histogram of the whole image"),
    "/image/{path}/histogram/per-image/bounds": _histogram("Bounds of the whole image"),
    "/image/{path}/histogram/per-channels": _histogram("Histogram per channel"),
    "/image/{path}/histogram/per-channels/bounds": _histogram("Bounds per channel"),
    "/image/{path}/histogram/per-plane/z/{z}/t/{t}": _histogram("Histogram of one plane"),
    "/image/{path}/histogram/per-plane/z/{z}/t/{t}/bounds": _histogram("Bounds of one plane"),
    "/image/{path}/histograms": _histogram("Histograms (PIMS legacy)"),
    "/image/{path}/histograms/full": _histogram("Full histogram (PIMS legacy)"),
    "/image/{path}/histograms/c/{channels}": _histogram("Histograms of channels"),
    "/image/{path}/histograms/c/{channels}/z/{z}/t/{t}": _histogram("Histograms of planes"),
    "/image/{path}/associated/{kind}{ext}": Op(
        "An associated image (label, macro, thumbnail)",
        tags=IMAGE_TAGS,
        returns="image",
        query=(Param("length", INTEGER), Param("width", INTEGER), Param("height", INTEGER)),
        path_schemas=ASSOCIATED,
    ),
    "/upload/presigned": Op(
        "Presigned URLs for a direct upload to S3",
        tags=["uploads"],
        body={
            "type": "object",
            "properties": {
                "filename": {"type": "string"},
                "size": INTEGER,
                "content_type": {"type": "string"},
            },
            "required": ["filename", "size"],
        },
    ),
    "/": Op("The viewer", tags=["viewer"], returns="html"),
}
