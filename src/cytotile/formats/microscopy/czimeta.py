"""The XML metadata of a Zeiss CZI: scaling, channels (name, colour, wavelengths), bit depth,
acquisition date, objective; raw ``CZI.*`` items. Untrusted: a DTD or entities are refused."""

from __future__ import annotations

import re
from typing import Any

from cytotile.errors import FormatError


def _xml(text: str) -> Any:
    import xml.etree.ElementTree as ET

    if re.search(r"<!(DOCTYPE|ENTITY)", text[:100_000]):
        raise FormatError("CZI metadata declaring a DTD or entities is refused")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise FormatError(f"malformed CZI metadata: {exc}") from exc


def _text(root: Any, path: str) -> str | None:
    element = root.find(path)
    return element.text.strip() if element is not None and element.text else None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _color(value: str | None) -> str | None:
    """CZI colours are ``#AARRGGBB`` (or ``#RRGGBB``)."""
    if not value or not re.fullmatch(r"#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})", value):
        return None
    return "#" + value[-6:].upper()


def parse_metadata(text: str) -> dict[str, Any]:
    root = _xml(text)
    image = root.find("Metadata/Information/Image")
    out: dict[str, Any] = {"raw": {}, "channels": []}
    sizes = {}
    for item in root.findall("Metadata/Scaling/Items/Distance"):
        value = _number(_text(item, "Value"))
        if value and value > 0:
            sizes[item.get("Id")] = value * 1e6  # meters -> micrometers
    out["physical"] = (sizes.get("X"), sizes.get("Y"), sizes.get("Z"))
    if image is not None:
        for child in image:
            if child.text and child.text.strip() and len(child) == 0:
                out["raw"][f"CZI.Image.{child.tag}"] = child.text.strip()
        bits = _text(image, "ComponentBitCount")
        out["significant_bits"] = int(bits) if bits and bits.isdigit() else None
        for ch in image.findall("Dimensions/Channels/Channel"):
            out["channels"].append(
                {
                    "name": ch.get("Name") or _text(ch, "Fluor"),
                    "color": _color(_text(ch, "Color")),
                    "emission": _number(_text(ch, "EmissionWavelength")),
                    "excitation": _number(_text(ch, "ExcitationWavelength")),
                }
            )
        out["scenes"] = [sc.get("Name") for sc in image.findall("Dimensions/S/Scenes/Scene")]
        out["acquired_at"] = _text(image, "AcquisitionDateAndTime")
        out["frame_rate"] = _frame_rate(image)
    objective = root.find("Metadata/Information/Instrument/Objectives/Objective")
    out["magnification"] = (
        _number(_text(objective, "NominalMagnification")) if objective is not None else None
    )
    if objective is not None:
        out["raw"]["CZI.Objective.Name"] = objective.get("Name")
    return out


def _frame_rate(image: Any) -> float | None:
    """Frames per second from the timepoints' offsets (seconds) or their fixed increment."""
    offsets = _text(image, "Dimensions/T/Positions/List/Offsets")
    if offsets:
        try:
            times = [float(v) for v in offsets.split()]
        except ValueError:
            times = []
        if len(times) > 1 and times[-1] > times[0]:
            return (len(times) - 1) / (times[-1] - times[0])
    increment = _number(_text(image, "Dimensions/T/Positions/Interval/Increment"))
    return 1.0 / increment if increment and increment > 0 else None
