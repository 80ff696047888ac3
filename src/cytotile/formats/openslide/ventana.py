"""Ventana BIF (and Ventana TIFF): a TIFF whose first page's XMP packet holds an ``iScan``
element; pyramid pages are described ``level=N mag=M``, with a macro ("Label Image") and a
thumbnail. Level 0 tiles are the page's own only when no stitching overlap moves them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cytotile.formats.base import ORDER_VENDOR
from cytotile.formats.openslide.slide import OpenSlideFormat
from cytotile.formats.openslide.tiffpages import XMP, jpeg_level0, page_tag, text
from cytotile.formats.tiff import structure

ISCAN = re.compile(r"<iScan\b")
LEVEL0 = re.compile(r"\blevel=0\b")
OVERLAP = re.compile(r"\bOverlap[XY]=\"([-0-9.]+)\"")


class VentanaFormat(OpenSlideFormat):
    id = "BIF"
    name = "Ventana BIF"
    order = ORDER_VENDOR + 45
    remarks = "Roche Ventana iScan whole-slide images (BIF, Ventana TIFF), with macro and thumb."
    vendors = ("ventana",)

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not structure.is_tiff(head):
            return False
        structure.inspect(path)  # malformed TIFFs are refused here, with a reason
        return ISCAN.search(text(page_tag(path, 0, XMP))) is not None

    @classmethod
    def level0_page(cls, path: Path, slide: Any) -> tuple[Path, int] | None:
        info = structure.inspect(path)
        for page in info.pages:
            if LEVEL0.search(page.description):
                xmp = text(page_tag(path, page.index, XMP))
                if any(float(v) != 0 for v in OVERLAP.findall(xmp)):
                    return None  # tiles are placed with their stitching offsets
                return jpeg_level0(path, page.index, slide)
        return None
