"""The IIIF Presentation 3 manifest of an image (``/iiif/3/{identifier}/manifest``): one canvas
of the image's size painted by the image service, the physical size as metadata and as a
physical-dimensions service, the associated label and macro as thumbnails and extra canvases."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cytotile.api.http import JSON, conditional, make_etag
from cytotile.api.iiif.base import identifier_of, json_ld, public_base
from cytotile.api.metadata import load
from cytotile.api.routing import context
from cytotile.manifest import Manifest
from cytotile.pipeline.args import Args
from cytotile.pipeline.image import ImageView
from cytotile.pyramid import Pyramid

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
PHYSDIM_CONTEXT = "http://iiif.io/api/annex/services/physdim/1/context.json"
#: the associated images shown next to the slide, in this order
ASSOCIATED = ("label", "macro")


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
            # its own size (the route's default, PIMS's, is a longer side of 256)
            "id": f"{image_base}/associated/{kind}.png?length={max(info['width'], info['height'])}",
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


def manifest(request: Request, args: Args) -> Response:
    ctx = context(request)
    view = ImageView.open(ctx.storage, request.path_params["path"])
    m = load(request)
    base = public_base(request)
    manifest_id = f"{base}/iiif/3/{identifier_of(request)}/manifest"
    media_type = json_ld(request.headers.get("accept"), PRESENTATION_CONTEXT)
    etag = make_etag("iiif-manifest", view.digest, manifest_id, media_type, m.to_json())

    def build() -> Response:
        document = presentation(
            manifest_id,
            f"{base}/iiif/3/{identifier_of(request)}",
            f"{base}/image/{request.path_params['path']}",
            m,
            view.pyramid,
        )
        return JSON(document, media_type=media_type)

    return conditional(request, etag, ctx.settings.cache_max_age, build)
