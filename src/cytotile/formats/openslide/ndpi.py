"""Hamamatsu NDPI: a TIFF with Hamamatsu's private tags (65420 marks it); levels are JPEG
strips with restart markers (McuStarts): the DCT re-tiler copies their coefficients interval by
interval when they qualify (cytotile.importer.retile), else the converter re-encodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.formats.base import ORDER_VENDOR
from cytotile.formats.openslide.slide import OpenSlideFormat, positive
from cytotile.formats.openslide.tiffpages import tiff_datetime
from cytotile.formats.tiff import structure


class NdpiFormat(OpenSlideFormat):
    id = "NDPI"
    name = "Hamamatsu NDPI"
    order = ORDER_VENDOR + 20
    remarks = "Hamamatsu NanoZoomer whole-slide images, with the macro image."
    vendors = ("hamamatsu",)

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return structure.is_tiff(head) and "ndpi" in structure.inspect(path).flags

    @classmethod
    def level0_page(cls, path: Path, slide: Any) -> tuple[Path, int] | None:
        """The one JPEG page of level 0's size with a positive magnification (not the macro,
        not a second focal plane), which OpenSlide reads as level 0."""
        import tifffile

        width, height = slide.dimensions
        with tifffile.TiffFile(path) as tif:
            pages: list[Any] = list(tif.pages)
            found = [
                k
                for k, page in enumerate(pages)
                if (page.imagewidth, page.imagelength) == (width, height)
                and int(page.compression) == 7
                and float(page.tags.valueof(65421, -1.0)) > 0
            ]
        return (path, found[0]) if len(found) == 1 else None

    @classmethod
    def details(cls, path: Path, props: dict[str, str]) -> dict[str, Any]:
        return {
            "acquired_at": tiff_datetime(props),
            "microscope_model": props.get("tiff.Model") or props.get("hamamatsu.Product"),
            "objective_nominal_magnification": positive(props.get("hamamatsu.SourceLens"))
            or positive(props.get("openslide.objective-power")),
        }
