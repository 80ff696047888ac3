"""PNG: one grey or RGB plane, 8 or 16 bits; alpha is flattened onto white, palettes expanded."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from cytotile.formats import safety
from cytotile.formats.base import ORDER_COMMON, Format, Source
from cytotile.formats.common import VipsSource, add_note, base_metadata, iso_datetime
from cytotile.formats.pillow import pnghead
from cytotile.formats.tiff import tags

DESCRIPTION_KEYS = ("Description", "Comment", "Title")
DATE_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


class PngFormat(Format):
    id = "PNG"
    name = "PNG"
    order = ORDER_COMMON + 20
    remarks = "Grey or colour, 8 or 16 bits; transparency is flattened onto white."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return head.startswith(pnghead.SIGNATURE)

    @classmethod
    def open(cls, path: Path) -> Source:
        header = safety.check_png(path, max_pixels=None)
        raw = parse_raw(path, header)
        n = 1 if header.color_type in (0, 4) else 3
        pixel_type = "uint16" if header.bit_depth == 16 else "uint8"
        if header.color_type == 3:
            add_note(raw, "palette expanded to RGB")
        if header.color_type in (4, 6) or "png.Transparency" in raw:
            add_note(raw, "alpha flattened onto white")
        if raw.get("png.AnimationFrames", 1) > 1:
            add_note(raw, "animated PNG: first frame only")
        if header.bit_depth < 8:
            add_note(raw, f"{header.bit_depth}-bit samples expanded to 8 bits")
        texts = {k[9:]: v for k, v in raw.items() if k.startswith("png.text.")}
        px, py = physical_sizes(raw)
        metadata = base_metadata(
            cls.id,
            header.width,
            header.height,
            n,
            pixel_type,
            physical_size_x=px,
            physical_size_y=py,
            acquired_at=acquisition_date(texts, raw),
            description=next((texts[k] for k in DESCRIPTION_KEYS if k in texts), None),
            raw_metadata=raw,
        )

        def load() -> Any:
            import pyvips

            return pyvips.Image.pngload(str(path), access="sequential", fail_on="error")

        return VipsSource(metadata, load)


def parse_raw(path: Path, header: pnghead.PngHeader) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "png.ImageWidth": header.width,
        "png.ImageHeight": header.height,
        "png.BitDepth": header.bit_depth,
        "png.ColorType": pnghead.COLOR_TYPES[header.color_type],
        "png.Compression": pnghead.COMPRESSIONS.get(header.compression, str(header.compression)),
        "png.Filter": pnghead.FILTERS.get(header.filter_method, str(header.filter_method)),
        "png.Interlace": "Adam7 Interlace" if header.interlace else "Noninterlaced",
    }
    for kind, data in pnghead.chunks(path):
        if kind == b"pHYs" and len(data) == 9:
            ppu_x, ppu_y, unit = struct.unpack(">IIB", data)
            raw.update({"png.PixelsPerUnitX": ppu_x, "png.PixelsPerUnitY": ppu_y})
            raw["png.PixelUnits"] = "meters" if unit == 1 else "Unknown"  # ExifTool's, as PIMS
        elif kind == b"tIME" and len(data) == 7:
            y, mo, d, h, mi, s = struct.unpack(">HBBBBB", data)
            raw["png.ModifyDate"] = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
        elif kind == b"tRNS":
            raw["png.Transparency"] = True
        elif kind == b"acTL" and len(data) >= 4:
            raw["png.AnimationFrames"] = struct.unpack(">I", data[:4])[0]
        elif kind == b"eXIf":
            raw.update(tags.exif_tags(data))
        elif kind == b"gAMA" and len(data) == 4:
            raw["png.Gamma"] = struct.unpack(">I", data)[0] / 100000
        elif entry := pnghead.text(kind, data):
            raw[f"png.text.{entry[0]}"] = entry[1]
    return raw


def physical_sizes(raw: dict[str, Any]) -> tuple[float | None, float | None]:
    """Micrometers per pixel from pHYs (when its unit is the meter), else from EXIF."""
    ppu_x, ppu_y = raw.get("png.PixelsPerUnitX"), raw.get("png.PixelsPerUnitY")
    if raw.get("png.PixelUnits") in ("meters", "meter") and ppu_x and ppu_y:
        return 1e6 / ppu_x, 1e6 / ppu_y
    return tags.physical_sizes(raw, "exif")


def acquisition_date(texts: dict[str, str], raw: dict[str, Any]) -> str | None:
    created = texts.get("Creation Time")
    if created and (parsed := iso_datetime(created, DATE_FORMATS)):
        return parsed
    modified = raw.get("png.ModifyDate")
    return tags.acquisition_date(raw) or (modified if isinstance(modified, str) else None)
