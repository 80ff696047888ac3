"""``info.json`` of the Image API 3.0 and 2.1 (the manifests are in :mod:`.presentation`)."""

from __future__ import annotations

from typing import Any

from cytotile.api.iiif.request import FORMATS, QUALITIES, Limits
from cytotile.pyramid import Pyramid

IMAGE_CONTEXT = {
    3: "http://iiif.io/api/image/3/context.json",
    2: "http://iiif.io/api/image/2/context.json",
}
PROFILE_URI = {
    3: "http://iiif.io/api/image/3/level2.json",
    2: "http://iiif.io/api/image/2/level2.json",
}
#: beyond level 2 (IIIF 3 names; 2.1 lists its own under "supports")
EXTRA_FEATURES = [
    "mirroring",
    "rotationArbitrary",
    "sizeUpscaling",
    "canonicalLinkHeader",
    "profileLinkHeader",
]
FEATURES_2 = [
    "baseUriRedirect", "canonicalLinkHeader", "cors", "jsonldMediaType", "mirroring",
    "profileLinkHeader", "regionByPct", "regionByPx", "regionSquare", "rotationArbitrary",
    "rotationBy90s", "sizeAboveFull", "sizeByConfinedWh", "sizeByDistortedWh", "sizeByH",
    "sizeByPct", "sizeByW", "sizeByWh",
]  # fmt: skip


def info_json(version: int, service_id: str, pyramid: Pyramid, limits: Limits) -> dict[str, Any]:
    base = pyramid.base
    tiles = [
        {
            "width": base.tile_width,
            "height": base.tile_height,
            "scaleFactors": [1 << tier.level for tier in pyramid.tiers],
        }
    ]
    sizes = [{"width": t.width, "height": t.height} for t in reversed(pyramid.tiers)]
    limit = {"maxWidth": limits.max_width, "maxHeight": limits.max_height}
    limit["maxArea"] = limits.max_area
    if version == 2:
        return {
            "@context": IMAGE_CONTEXT[2],
            "@id": service_id,
            "protocol": "http://iiif.io/api/image",
            "width": base.width,
            "height": base.height,
            "tiles": tiles,
            "sizes": sizes,
            "profile": [
                PROFILE_URI[2],
                {"formats": list(FORMATS), "qualities": list(QUALITIES), "supports": FEATURES_2}
                | limit,
            ],
        }
    return {
        "@context": IMAGE_CONTEXT[3],
        "id": service_id,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level2",
        "width": base.width,
        "height": base.height,
        **limit,
        "tiles": tiles,
        "sizes": sizes,
        "extraFormats": [f for f in FORMATS if f not in ("jpg", "png")],
        "extraQualities": [q for q in QUALITIES if q != "default"],
        "extraFeatures": EXTRA_FEATURES,
    }
