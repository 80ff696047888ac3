"""The JSON documents: ``info.json`` of the Image API 3.0 and 2.1, and the Presentation 3
manifest of an image (one canvas with the image service, associated images as thumbnails and
extra canvases, the physical size as metadata and as a physical-dimensions service)."""

from __future__ import annotations

from typing import Any

from cytotile.api.iiif.request import FORMATS, QUALITIES, Limits
from cytotile.manifest import Manifest
from cytotile.pyramid import Pyramid

IMAGE_CONTEXT = {
    3: "http://iiif.io/api/image/3/context.json",
    2: "http://iiif.io/api/image/2/context.json",
}
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
PHYSDIM_CONTEXT = "http://iiif.io/api/annex/services/physdim/1/context.json"
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
#: the associated images shown next to the slide, in this order
ASSOCIATED = ("label", "macro")


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


def _label(text: str) -> dict[str, list[str]]:
    return {"none": [text]}


def _metadata(image: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [("Width", f"{image.get('width')} px"), ("Height", f"{image.get('height')} px")]
    px, py = image.get("physical_size_x"), image.get("physical_size_y")
    if px and py:
        rows.append(("Pixel size", f"{px} x {py} µm"))
        rows.append(
            (
                "Physical size",
                f"{image['width'] * px / 1000:.3f} x {image['height'] * py / 1000:.3f} mm",
            )
        )
    magnification = image.get("objective_nominal_magnification")
    if magnification:
        rows.append(("Objective", f"{magnification}x"))
    for key, name in (
        ("n_channels", "Channels"),
        ("depth", "Focal planes"),
        ("duration", "Timepoints"),
    ):
        if image.get(key) and image[key] > 1:
            rows.append((name, str(image[key])))
    return [{"label": {"en": [k]}, "value": _label(v)} for k, v in rows]


def _canvas(
    canvas_id: str, label: str, width: int, height: int, body: dict[str, Any]
) -> dict[str, Any]:
    page = f"{canvas_id}/page"
    return {
        "id": canvas_id,
        "type": "Canvas",
        "label": _label(label),
        "width": width,
        "height": height,
        "items": [
            {
                "id": page,
                "type": "AnnotationPage",
                "items": [
                    {
                        "id": f"{page}/image",
                        "type": "Annotation",
                        "motivation": "painting",
                        "body": body,
                        "target": canvas_id,
                    }
                ],
            }
        ],
    }


def presentation(
    manifest_id: str, service_id: str, image_base: str, m: Manifest, pyramid: Pyramid
) -> dict[str, Any]:
    """``image_base``: the image's PIMS routes (``.../image/<path>``), for associated images."""
    image = m.image or {}
    base = pyramid.base
    top = pyramid.tiers[-1]
    service: dict[str, Any] = {"id": service_id, "type": "ImageService3", "profile": "level2"}
    body = {
        "id": f"{service_id}/full/max/0/default.jpg",
        "type": "Image",
        "format": "image/jpeg",
        "width": base.width,
        "height": base.height,
        "service": [service],
    }
    canvas = _canvas(f"{manifest_id}/canvas/image", m.original_name, base.width, base.height, body)
    px = image.get("physical_size_x")
    if px:
        canvas["service"] = [
            {
                "@context": PHYSDIM_CONTEXT,
                "@id": f"{manifest_id}/physdim",
                "@type": "PhysicalDimensions",
                "profile": "http://iiif.io/api/annex/services/physdim",
                "physicalScale": px / 1000,
                "physicalUnits": "mm",
            }
        ]
    thumbs = [
        {
            "id": f"{service_id}/full/{top.width},{top.height}/0/default.jpg",
            "type": "Image",
            "format": "image/jpeg",
            "width": top.width,
            "height": top.height,
            "service": [service],
        }
    ]
    canvases = [canvas]
    for kind in ASSOCIATED:
        info = (image.get("associated") or {}).get(kind) or {}
        if kind not in m.associated or not info.get("width"):
            continue
        picture = {
            "id": f"{image_base}/associated/{kind}.png",
            "type": "Image",
            "format": "image/png",
            "width": info["width"],
            "height": info["height"],
        }
        thumbs.append(picture)
        canvases.append(
            _canvas(f"{manifest_id}/canvas/{kind}", kind, info["width"], info["height"], picture)
        )
    return {
        "@context": PRESENTATION_CONTEXT,
        "id": manifest_id,
        "type": "Manifest",
        "label": _label(m.original_name),
        "metadata": _metadata(image),
        "thumbnail": thumbs,
        "items": canvases,
    }
