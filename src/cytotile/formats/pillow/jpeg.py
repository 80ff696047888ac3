"""JPEG (JFIF/EXIF): one 8-bit grey or RGB plane."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_COMMON, Format, Source
from cytotile.formats.common import VipsSource, add_note, base_metadata
from cytotile.formats.pillow import jpeghead
from cytotile.formats.tiff import tags

SOF_NAMES = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive", 0xC9: "arithmetic"}
JFIF_UNITS = {1: "INCH", 2: "CENTIMETER"}


class JpegFormat(Format):
    id = "JPEG"
    name = "JPEG"
    order = ORDER_COMMON + 10
    remarks = "Baseline and progressive JPEG, 8-bit grey or colour; CMYK and YCCK to RGB."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return head.startswith(jpeghead.SOI)

    @classmethod
    def open(cls, path: Path) -> Source:
        header = safety.check_jpeg(path, max_pixels=None)
        reason = jpeghead.unsupported_reason(header)
        if reason:
            raise FormatError(reason)
        raw = parse_raw(header)
        n = 1 if header.components == 1 else 3
        if header.components == 4:
            transform = raw.get("jpeg.AdobeTransform")
            add_note(raw, f"{'YCCK' if transform == 2 else 'CMYK'} converted to RGB")
        px, py = tags.physical_sizes(raw, "exif")
        if px is None and py is None:
            px, py = tags.physical_sizes(raw, "jfif")
        metadata = base_metadata(
            cls.id,
            header.width,
            header.height,
            n,
            "uint8",
            physical_size_x=px,
            physical_size_y=py,
            acquired_at=tags.acquisition_date(raw),
            description=raw.get("jpeg.Comment") or raw.get("exif.ImageDescription"),
            raw_metadata=raw,
        )

        def load() -> Any:
            import pyvips

            image = pyvips.Image.jpegload(str(path), access="sequential", fail_on="error")
            return cmyk_to_rgb(image) if image.bands == 4 else image

        return VipsSource(metadata, load)


def cmyk_to_rgb(image: Any) -> Any:
    """RGB from the CMYK libjpeg gives (YCCK already turned to CMYK, Adobe's inverted samples
    already restored by libvips): through the embedded ICC profile when there is one, else
    ``(255 - C) * (255 - K) / 255`` per channel, the conversion Pillow and most viewers use."""
    if image.get_typeof("icc-profile-data"):
        return image.icc_transform("srgb", embedded=True, intent="perceptual").cast("uchar")
    ink = 255 - image.cast("int")
    rgb = (ink[:3] * ink[3] + 127) / 255
    return rgb.cast("uchar").copy(interpretation="srgb")


def parse_raw(header: jpeghead.JpegHeader) -> dict[str, Any]:
    """``jpeg.*``, ``jfif.*`` and ``exif.*`` raw metadata from the header segments."""
    raw: dict[str, Any] = {
        "jpeg.ImageWidth": header.width,
        "jpeg.ImageHeight": header.height,
        "jpeg.Components": header.components,
        "jpeg.BitsPerSample": header.precision,
        "jpeg.EncodingProcess": SOF_NAMES.get(header.sof, hex(header.sof)),
    }
    for marker, data in header.segments:
        if marker == 0xE0 and data.startswith(b"JFIF\x00") and len(data) >= 12:
            units, xd, yd = struct.unpack(">BHH", data[7:12])
            raw["jfif.Version"] = f"{data[5]}.{data[6]:02d}"
            if units in JFIF_UNITS:
                raw.update({"jfif.ResolutionUnit": JFIF_UNITS[units]})
                raw.update({"jfif.XResolution": xd, "jfif.YResolution": yd})
        elif marker == 0xE1 and data.startswith(b"Exif\x00\x00"):
            raw.update(tags.exif_tags(data))
        elif marker == 0xFE:
            comment = data.decode("utf-8", "replace").strip("\x00 \r\n")
            if comment:
                raw["jpeg.Comment"] = comment[: tags.MAX_TEXT]
        elif marker == 0xEE and data.startswith(b"Adobe") and len(data) >= 12:
            raw["jpeg.AdobeTransform"] = data[11]
    return raw
