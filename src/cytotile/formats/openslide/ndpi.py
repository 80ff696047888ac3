"""Hamamatsu NDPI: a TIFF with Hamamatsu's private tags (65420 marks it); levels are JPEG
strips, so the converter re-encodes (the DCT re-tiler takes tiled pages only)."""

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
    def details(cls, path: Path, props: dict[str, str]) -> dict[str, Any]:
        return {
            "acquired_at": tiff_datetime(props),
            "microscope_model": props.get("tiff.Model") or props.get("hamamatsu.Product"),
            "objective_nominal_magnification": positive(props.get("hamamatsu.SourceLens"))
            or positive(props.get("openslide.objective-power")),
        }
