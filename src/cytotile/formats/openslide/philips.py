"""Philips TIFF (iSyntax exported to TIFF): Software "Philips...", an ImageDescription that is a
``DataObject`` of type ``DPUfsImport``; level 0 is the first page, JPEG tiles."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cytotile.formats.base import ORDER_VENDOR
from cytotile.formats.common import iso_datetime
from cytotile.formats.openslide.slide import OpenSlideFormat
from cytotile.formats.openslide.tiffpages import jpeg_level0
from cytotile.formats.tiff import structure

ROOT = re.compile(r"<DataObject\b[^>]*ObjectType=\"DPUfsImport\"")
DATE_FORMATS = ("%Y%m%d%H%M%S.%f", "%Y%m%d%H%M%S")


class PhilipsTiffFormat(OpenSlideFormat):
    id = "PHILIPS"
    name = "Philips TIFF"
    order = ORDER_VENDOR + 40
    remarks = "Philips IntelliSite whole-slide images exported as TIFF, with label and macro."
    vendors = ("philips",)

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not structure.is_tiff(head):
            return False
        info = structure.inspect(path)
        software = info.raw.get("tiff.Software")
        if not (isinstance(software, str) and software.startswith("Philips")):
            return False
        return ROOT.search(info.pages[0].description[:4096]) is not None

    @classmethod
    def details(cls, path: Path, props: dict[str, str]) -> dict[str, Any]:
        date = props.get("philips.DICOM_ACQUISITION_DATETIME", "")
        model = props.get("philips.DICOM_MANUFACTURER")
        return {
            "acquired_at": iso_datetime(date, DATE_FORMATS) if date else None,
            "microscope_model": model,
        }

    @classmethod
    def level0_page(cls, path: Path, slide: Any) -> tuple[Path, int] | None:
        return jpeg_level0(path, 0, slide)
