"""Leica SCN: a BigTIFF whose first ImageDescription is Leica's XML (a ``scn`` root in Leica's
namespace) describing a collection of images (the slide's macro and the scanned areas)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cytotile.formats.base import ORDER_VENDOR
from cytotile.formats.common import iso_datetime
from cytotile.formats.openslide.slide import OpenSlideFormat
from cytotile.formats.openslide.tiffpages import jpeg_level0
from cytotile.formats.tiff import structure

NAMESPACE = re.compile(r"<scn\b[^>]*xmlns=\"http://www\.leica-microsystems\.com/scn/")
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S")
IFD = re.compile(r"<dimension\b[^>]*\bifd=\"(\d+)\"")


def main_image_um_per_pixel(xml: str) -> float | None:
    """Micrometers per pixel of the first main (non-macro) image at full resolution: its view's
    width in nm over its widest dimension in pixels."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    ns = {"d": root.tag[1:].partition("}")[0]} if root.tag.startswith("{") else {"d": ""}
    collection = root.find("d:collection", ns)
    if collection is None:
        return None
    for image in collection.findall("d:image", ns):
        view = image.find("d:view", ns)
        widths = [int(d.get("sizeX", "0")) for d in image.findall("d:pixels/d:dimension", ns)]
        if view is None or not widths or max(widths) <= 0:
            continue
        whole = (view.get("offsetX"), view.get("offsetY")) == ("0", "0") and (
            view.get("sizeX"),
            view.get("sizeY"),
        ) == (collection.get("sizeX"), collection.get("sizeY"))
        if not whole:  # the macro covers the whole collection
            return int(view.get("sizeX", "0")) / max(widths) / 1000 or None
    return None


class ScnFormat(OpenSlideFormat):
    id = "SCN"
    name = "Leica SCN"
    order = ORDER_VENDOR + 30
    remarks = "Leica SCN400 / Aperio Versa whole-slide images (brightfield), with the macro."
    vendors = ("leica",)

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not structure.is_tiff(head):
            return False
        return NAMESPACE.search(structure.inspect(path).pages[0].description[:4096]) is not None

    @classmethod
    def details(cls, path: Path, props: dict[str, str]) -> dict[str, Any]:
        date = props.get("leica.creation-date")
        fields: dict[str, Any] = {
            "acquired_at": iso_datetime(date, DATE_FORMATS) if date else None,
            "microscope_model": props.get("leica.device-model"),
        }
        if not props.get("openslide.mpp-x"):  # from the XML: the main image's nm per pixel
            um = main_image_um_per_pixel(structure.inspect(path).pages[0].description)
            fields["physical_size_x"] = fields["physical_size_y"] = um
        return fields

    @classmethod
    def level0_page(cls, path: Path, slide: Any) -> tuple[Path, int] | None:
        """The main image's full-resolution page, when level 0 is exactly that page (the
        collection is the scanned area alone)."""
        description = structure.inspect(path).pages[0].description
        for ifd in IFD.findall(description):
            if (found := jpeg_level0(path, int(ifd), slide)) is not None:
                return found
        return None
