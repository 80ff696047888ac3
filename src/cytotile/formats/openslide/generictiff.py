"""Tiled TIFFs without a vendor signature that libvips does not decode here but OpenSlide's
libtiff does: zstd tiles, CMYK or CIELab pages (converted to RGB as OpenSlide does)."""

from __future__ import annotations

from pathlib import Path

from cytotile.formats.base import ORDER_VENDOR
from cytotile.formats.openslide.slide import OpenSlideFormat
from cytotile.formats.tiff import structure
from cytotile.formats.tiff.structure import TiffPage

#: compressions OpenSlide's libtiff (openslide-bin 4) decodes, beyond libvips' set here
ZSTD = 50000
COMPRESSIONS = structure.DECODABLE | {ZSTD}
CMYK, CIELAB = 5, 8


def openslide_only(page: TiffPage) -> bool:
    """A tiled 8-bit page OpenSlide decodes and the libvips path refuses."""
    if structure.unsupported_reason(page) is None:
        return False  # PYRTIFF / PLANARTIFF read it
    if not page.tiled or page.bits != 8 or page.sample_format not in (1, 4):
        return False
    if page.compression not in COMPRESSIONS:
        return False
    if page.photometric == CMYK:
        return page.samples == 4
    if page.photometric == CIELAB:
        return page.samples == 3
    return page.photometric in structure.PHOTOMETRIC_OK and page.samples in (1, 2, 3, 4)


class OpenSlideTiffFormat(OpenSlideFormat):
    id = "OPENSLIDETIFF"
    name = "Tiled TIFF (OpenSlide)"
    order = ORDER_VENDOR + 90
    remarks = "Tiled TIFF that only OpenSlide decodes here: zstd tiles, CMYK or CIELab pages."
    vendors = ("generic-tiff",)

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not structure.is_tiff(head):
            return False
        info = structure.inspect(path)
        # OME-TIFF is the microscopy format's (C/Z/T planes; tifffile decodes its zstd tiles)
        ome = "ome" in info.flags
        return info.vendor is None and not ome and openslide_only(info.pages[0])
