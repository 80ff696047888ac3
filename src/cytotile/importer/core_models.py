"""The bodies of the Cytomine core's models that an import creates, from an upload's manifest,
with the members PIMS's Cytomine listener fills (``AbstractImage``, ``AbstractSlice``,
``Property``, ``UploadedFile``). Pure functions: no call to the core."""

from __future__ import annotations

import re
from typing import Any

#: the domain class of an AbstractImage, when the core's answer does not name it
ABSTRACT_IMAGE_CLASS = "be.cytomine.domain.image.AbstractImage"
SLICE_MIME = "image/pyrtiff"  # what PIMS registers for every slice (its serving pyramid)


def _bits(pixel_type: str) -> int | None:
    found = re.search(r"\d+", pixel_type or "")
    return int(found.group()) if found else None


def _rounded(value: Any) -> float | None:
    return round(float(value), 6) if value else None


def abstract_image(image: dict[str, Any], uploaded_file_id: int, name: str) -> dict[str, Any]:
    """``image``: the manifest's ImageMetadata (sizes in micrometres, rate in Hz)."""
    magnification = image.get("objective_nominal_magnification")
    body = {
        "uploadedFile": uploaded_file_id,
        "originalFilename": name,
        "width": image["width"],
        "height": image["height"],
        "depth": image.get("depth", 1),
        "duration": image.get("duration", 1),
        "channels": image["n_concrete_channels"],  # Cytomine's channels: the concrete ones
        "samplePerPixel": image["n_samples"],
        "bitPerSample": _bits(image["pixel_type"]),
        "physicalSizeX": _rounded(image.get("physical_size_x")),
        "physicalSizeY": _rounded(image.get("physical_size_y")),
        "physicalSizeZ": _rounded(image.get("physical_size_z")),
        "fps": _rounded(image.get("frame_rate")),
        "magnification": int(magnification) if magnification else None,
    }
    return {k: v for k, v in body.items() if v is not None}


def abstract_slices(
    image: dict[str, Any], abstract_image_id: int, uploaded_file_id: int
) -> list[dict[str, Any]]:
    """One slice per (concrete channel, z, t): a concrete channel of several samples (RGB) is
    named by its samples' distinct names joined by ``|`` and has no colour, as PIMS names it."""
    channels = image.get("channels") or []
    n_samples = image["n_samples"]
    slices = []
    for c in range(image["n_concrete_channels"]):
        members = channels[c * n_samples : (c + 1) * n_samples]
        name = members[0].get("suggested_name") if members else None
        color = members[0].get("color") if members else None
        if n_samples != 1:
            names = [m["suggested_name"] for m in members if m.get("suggested_name")]
            name, color = "|".join(dict.fromkeys(names)) or None, None
        for z in range(image.get("depth", 1)):
            for t in range(image.get("duration", 1)):
                body = {"image": abstract_image_id, "uploadedFile": uploaded_file_id,
                        "mime": SLICE_MIME, "channel": c, "zStack": z, "time": t,
                        "channelName": name, "channelColor": color}  # fmt: skip
                slices.append({k: v for k, v in body.items() if v is not None})
    return slices


def properties(
    domain: dict[str, Any], pairs: list[tuple[str, Any]] | tuple[tuple[str, Any], ...]
) -> list[dict[str, Any]]:
    """Properties of ``domain`` (a core object: its ``id`` and ``class``); empty values are
    left out, as PIMS leaves them."""
    kind = domain.get("class") or ABSTRACT_IMAGE_CLASS
    return [
        {"key": str(key), "value": str(value), "domainClassName": kind, "domainIdent": domain["id"]}
        for key, value in pairs
        if value is not None and str(value) != ""
    ]


def property_uri(domain: dict[str, Any]) -> str:
    return f"domain/{domain.get('class') or ABSTRACT_IMAGE_CLASS}/{domain['id']}/property.json"


def uploaded_file(
    like: dict[str, Any], name: str, filename: str, size: int | None, status: int, parent: Any
) -> dict[str, Any]:
    """A new UploadedFile in the storage, user and image server of ``like`` (PIMS's child files:
    a converted pyramid, an archive's member)."""
    body = {"originalFilename": name, "filename": filename, "size": size or 0, "ext": "",
            "contentType": "", "storage": like.get("storage"), "user": like.get("user"),
            "imageServer": like.get("imageServer"), "status": status, "parent": parent}  # fmt: skip
    return {k: v for k, v in body.items() if v is not None}


def chunks(items: list[dict[str, Any]], size: int = 15) -> list[list[dict[str, Any]]]:
    """Collections are saved by 15, as Cytomine's client saves them."""
    return [items[i : i + size] for i in range(0, len(items), size)]
