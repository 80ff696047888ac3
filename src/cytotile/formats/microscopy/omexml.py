"""A small OME-XML reader: what cytotile needs of the OME model (one Image's Pixels, its
channels and TiffData, the objective), not the whole schema (ome-types is much heavier).

Untrusted XML: documents declaring a DTD or entities are refused before parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cytotile.errors import FormatError

#: OME pixel types -> numpy names
TYPES = {
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "float": "float32",
    "double": "float64",
    "bit": "bool",
}
#: micrometers per unit of OME's length units
LENGTH_UNITS = {"pm": 1e-6, "nm": 1e-3, "µm": 1.0, "um": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6}
NS_RE = re.compile(r"^\{[^}]*\}")


@dataclass
class OmeChannel:
    name: str | None = None
    color: str | None = None  # "#RRGGBB"
    emission: float | None = None
    excitation: float | None = None
    samples: int = 1


@dataclass
class OmePixels:
    size_x: int
    size_y: int
    size_z: int
    size_c: int
    size_t: int
    dimension_order: str
    pixel_type: str
    significant_bits: int | None = None
    physical_size_x: float | None = None
    physical_size_y: float | None = None
    physical_size_z: float | None = None
    time_increment: float | None = None  # seconds
    channels: list[OmeChannel] = field(default_factory=list)
    image_name: str | None = None
    description: str | None = None
    acquired_at: str | None = None
    objective_nominal: float | None = None
    objective_calibrated: float | None = None
    microscope: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def _tag(element: Any) -> str:
    return NS_RE.sub("", element.tag)


def _children(element: Any, name: str) -> list[Any]:
    return [e for e in element if _tag(e) == name]


def _find(element: Any, name: str) -> Any:
    return next((e for e in element.iter() if _tag(e) == name), None)


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number == number else None


def _length(attrs: dict[str, str], name: str) -> float | None:
    value = _float(attrs.get(name))
    if value is None or value <= 0:
        return None
    return value * LENGTH_UNITS.get(attrs.get(name + "Unit", "µm"), 1.0)


def ome_color(value: str | None) -> str | None:
    """OME's signed 32-bit RGBA integer as ``#RRGGBB``."""
    try:
        rgba = int(value) & 0xFFFFFFFF if value is not None else None
    except ValueError:
        return None
    return None if rgba is None else f"#{rgba >> 8:06X}"


def document(xml: str) -> Any:
    """The root element of an OME-XML document (untrusted: no DTD, no entities)."""
    import xml.etree.ElementTree as ET

    if re.search(r"<!(DOCTYPE|ENTITY)", xml[:100_000]):
        raise FormatError("OME-XML declaring a DTD or entities is refused")
    try:
        return ET.fromstring(xml)
    except ET.ParseError as exc:
        raise FormatError(f"malformed OME-XML: {exc}") from exc


def parse(xml: str, index: int = 0) -> OmePixels:
    """Image ``index`` of an OME-XML document; ``FormatError`` when it is not usable."""
    root = document(xml)
    images = [e for e in root if _tag(e) == "Image"]
    image = images[index] if 0 <= index < len(images) else None
    pixels = _find(image, "Pixels") if image is not None else None
    if pixels is None:
        raise FormatError("OME-XML has no Image with Pixels")
    a = pixels.attrib
    try:
        sizes = [int(a[k]) for k in ("SizeX", "SizeY", "SizeZ", "SizeC", "SizeT")]
        order, ptype = a["DimensionOrder"], TYPES[a["Type"]]
    except (KeyError, ValueError) as exc:
        raise FormatError(f"OME-XML Pixels lacks or mangles {exc}") from exc
    if order[:2] != "XY" or sorted(order) != sorted("XYZCT") or min(sizes) < 1:
        raise FormatError(f"OME-XML Pixels: invalid DimensionOrder {order!r} or sizes {sizes}")
    sx, sy, sz, sc, st = sizes
    out = OmePixels(sx, sy, sz, sc, st, dimension_order=order, pixel_type=ptype)
    out.significant_bits = (
        int(a["SignificantBits"]) if a.get("SignificantBits", "").isdigit() else None
    )
    out.physical_size_x = _length(a, "PhysicalSizeX")
    out.physical_size_y = _length(a, "PhysicalSizeY")
    out.physical_size_z = _length(a, "PhysicalSizeZ")
    increment = _float(a.get("TimeIncrement"))
    unit = a.get("TimeIncrementUnit", "s")
    scale = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "min": 60.0, "h": 3600.0}.get(unit, 1.0)
    out.time_increment = increment * scale if increment and increment > 0 else None
    for ch in _children(pixels, "Channel"):
        c = ch.attrib
        out.channels.append(
            OmeChannel(
                name=c.get("Name") or c.get("Fluor"),
                color=ome_color(c.get("Color")),
                emission=_float(c.get("EmissionWavelength")),
                excitation=_float(c.get("ExcitationWavelength")),
                samples=int(c["SamplesPerPixel"]) if c.get("SamplesPerPixel", "").isdigit() else 1,
            )
        )
    assert image is not None
    out.image_name = image.attrib.get("Name")
    for child in image:
        if _tag(child) == "Description" and child.text:
            out.description = child.text.strip()
        elif _tag(child) == "AcquisitionDate" and child.text:
            out.acquired_at = child.text.strip()
    _instrument(root, out)
    out.raw = _raw(root, a)
    return out


def _instrument(root: Any, out: OmePixels) -> None:
    objective = _find(root, "Objective")
    if objective is not None:
        out.objective_nominal = _float(objective.attrib.get("NominalMagnification"))
        out.objective_calibrated = _float(objective.attrib.get("CalibratedMagnification"))
    microscope = _find(root, "Microscope")
    if microscope is not None:
        parts = [microscope.attrib.get(k) for k in ("Manufacturer", "Model")]
        out.microscope = " ".join(p for p in parts if p) or None


def _raw(root: Any, pixels: dict[str, str]) -> dict[str, Any]:
    """``OME.*`` raw metadata: the Pixels attributes, the creator, the original metadata
    annotations (key/value pairs Bio-Formats keeps), capped."""
    raw: dict[str, Any] = {f"OME.Pixels.{k}": v for k, v in pixels.items() if k != "ID"}
    raw.update(pims_keys(root))
    if "Creator" in root.attrib:
        raw["OME.Creator"] = root.attrib["Creator"]
    for element in root.iter():
        if len(raw) >= 500:
            break
        if _tag(element) == "OriginalMetadata":
            key = next((e.text for e in element if _tag(e) == "Key"), None)
            value = next((e.text for e in element if _tag(e) == "Value"), None)
            if key:
                raw[f"OME.OriginalMetadata.{key}"] = (value or "")[:1000]
        elif _tag(element) in ("Objective", "Detector", "Microscope", "Laser"):
            for k, v in element.attrib.items():
                if k != "ID":
                    raw[f"OME.{_tag(element)}.{k}"] = v
    return raw


def _typed(value: str) -> Any:
    """An XML attribute as a typed metadata value: booleans, integers, numbers, else text."""
    if value in ("true", "false"):
        return value == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def pims_keys(root: Any) -> dict[str, Any]:
    """The attributes of the OME root, its Images, their Pixels and Channels under PIMS's
    keys (``OME.UUID``, ``OME.Image[0].Name``, ``OME.Image[0].Pixels.SizeC``,
    ``OME.Image[0].Pixels.Channel[1].SamplesPerPixel``), IDs left out."""
    out: dict[str, Any] = {f"OME.{k}": _typed(v) for k, v in root.attrib.items()}
    for i, image in enumerate(_children(root, "Image")):
        scopes = [(f"Image[{i}]", image)]
        pixels = _find(image, "Pixels")
        if pixels is not None:
            scopes.append((f"Image[{i}].Pixels", pixels))
            channels = _children(pixels, "Channel")
            scopes += [(f"Image[{i}].Pixels.Channel[{c}]", ch) for c, ch in enumerate(channels)]
        for prefix, element in scopes:
            for key, value in element.attrib.items():
                if key != "ID":
                    out[f"OME.{prefix}.{key}"] = _typed(value)
    return out
