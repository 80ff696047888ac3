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
        model = props.get("leica.device-model")
        version = props.get("leica.device-version")
        return {
            "acquired_at": iso_datetime(date, DATE_FORMATS) if date else None,
            "microscope_model": f"{model} {version}" if model and version else model,
        }

    @classmethod
    def level0_page(cls, path: Path, slide: Any) -> tuple[Path, int] | None:
        """The main image's full-resolution page, when level 0 is exactly that page (the
        collection is the scanned area alone)."""
        description = structure.inspect(path).pages[0].description
        for ifd in IFD.findall(description):
            if (found := jpeg_level0(path, int(ifd), slide)) is not None:
                return found
        return None
