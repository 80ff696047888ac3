"""OpenAPI descriptions of the IIIF and DeepZoom routes (docs/openapi.md, docs/protocols.md)."""

from __future__ import annotations

from typing import Any

from cytotile.api.openapi import Op
from cytotile.api.openapi_ops import MANIPULATION, PLANES

IDENTIFIER = {
    "type": "string",
    "description": "the image path upload-<id>/<original name> as a IIIF identifier: its "
    "slash escaped (%2F), or not",
}
IIIF_PATHS: dict[str, dict[str, Any]] = {
    "version": {"type": "string", "enum": ["3", "2"], "description": "Image API 3.0 or 2.1"},
    "path": IDENTIFIER,
    "region": {"type": "string", "description": "full, square, x,y,w,h or pct:x,y,w,h"},
    "size": {
        "type": "string",
        "description": "max, w,, ,h, pct:n, w,h, !w,h; IIIF 3: ^ before any of them upscales "
        "(without it a size over the region's is 400); IIIF 2: full too, no ^",
    },
    "rotation": {
        "type": "string",
        "description": "degrees clockwise, 0 to 360 (any angle; 90s are exact), ! mirrors first",
    },
    "quality": {"type": "string", "enum": ["default", "color", "gray", "bitonal"]},
    "format": {"type": "string", "enum": ["jpg", "png", "webp"]},
}
ERRORS = {
    304: "Not modified (If-None-Match)",
    413: "Over the memory budget of one request",
    501: "A valid IIIF request cytotile does not implement (tif, gif, jp2, pdf)",
}
IMAGE = Op(
    "IIIF Image API image request",
    "A request equal to a stored tile (its region a tile's level-0 footprint, its size the "
    "tile's, rotation 0, default quality, jpg) answers the stored JPEG bytes "
    "(X-Cytotile-Passthrough: 1); any other is rendered from the smallest tier that holds its "
    "detail. Errors follow IIIF: 400 for a bad parameter, 404 for an unknown identifier. The "
    "PIMS plane and intensity parameters may be added as a query (multi-channel images).",
    tags=["iiif"],
    returns="image",
    path_schemas=IIIF_PATHS,
    query=(*PLANES, *MANIPULATION),
    statuses=ERRORS,
)
INFO = Op(
    "IIIF Image API information (info.json)",
    "Level 2 (3.0: profile level2, extraFeatures mirroring, rotationArbitrary, sizeUpscaling; "
    "2.1: the level2 profile with the same list under supports). tiles: 256, one scale factor "
    "per tier of the serving pyramid; sizes: the tiers. application/ld+json with the context as "
    "profile when Accept asks for it, else application/json.",
    tags=["iiif"],
    returns="application/ld+json",
    path_schemas=IIIF_PATHS,
    statuses={304: ERRORS[304]},
)
MANIFEST = Op(
    "IIIF Presentation 3 manifest of one image",
    "One canvas of the image's size painted by the IIIF image service, the physical size as "
    "metadata and as a physical-dimensions service, the label and macro images as thumbnails "
    "and extra canvases: Mirador and Universal Viewer open an image from this URL.",
    tags=["iiif"],
    returns="application/ld+json",
    path_schemas=IIIF_PATHS,
    statuses={304: ERRORS[304]},
)
REDIRECT = Op(
    "IIIF base URI: 303 to its info.json",
    tags=["iiif"],
    path_schemas=IIIF_PATHS,
    statuses={303: "See info.json"},
)
DZI_PATH = {"path": {"type": "string", "description": "the image path upload-<id>/<name>"}}
DZI_TILE = Op(
    "DeepZoom tile",
    "Level L is ceil(W / 2^(maxL - L)) wide, maxL = ceil(log2(max(W, H))); 256-pixel tiles, "
    "overlap 0. Levels that are tiers of the serving pyramid answer the stored JPEG bytes "
    "(X-Cytotile-Passthrough: 1); smaller levels are rendered. PIMS plane parameters may be "
    "added as a query.",
    tags=["deepzoom"],
    returns="image",
    path_schemas={**DZI_PATH, "fmt": {"type": "string", "enum": ["jpeg", "jpg", "png"]}},
    query=(*PLANES, *MANIPULATION),
    statuses={304: ERRORS[304]},
)
DZI = Op(
    "DeepZoom descriptor (.dzi)",
    "TileSize 256, Overlap 0, Format jpeg, the image's size.",
    tags=["deepzoom"],
    returns="application/xml",
    path_schemas=DZI_PATH,
    statuses={304: ERRORS[304]},
)
