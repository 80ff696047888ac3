"""BMP (Windows and OS/2 bitmaps): 1, 4, 8-bit palettes, 16, 24 and 32-bit colour, bottom-up or
top-down, uncompressed, bit fields or RLE. The headers are read here; Pillow decodes the pixels."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_COMMON, Format, Source
from cytotile.formats.common import VipsSource, add_note, base_metadata
from cytotile.formats.pillow import pixels

COMPRESSIONS = {
    0: "none",
    1: "RLE8",
    2: "RLE4",
    3: "bit fields",
    4: "JPEG",
    5: "PNG",
    6: "bit fields",
}
DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
MAX_PALETTE = 256


@dataclass(frozen=True)
class BmpHeader:
    width: int
    height: int  # always positive; ``top_down`` says the row order
    top_down: bool
    bits: int
    compression: int
    data_offset: int
    dib_size: int
    ppm_x: int
    ppm_y: int
    grey: bool  # a palette whose entries are all grey
    alpha: bool  # a 32-bit image with an alpha mask

    @property
    def raw_bytes(self) -> int:
        """Bytes of the uncompressed rows (each padded to 4 bytes)."""
        return (self.width * self.bits + 31) // 32 * 4 * self.height


def read_header(path: Path) -> BmpHeader:
    with open(path, "rb") as fh:
        data = fh.read(14 + 124 + 4 * MAX_PALETTE)
    if not data.startswith(b"BM") or len(data) < 26:
        raise FormatError("not a BMP file, or truncated in its header")
    offset, dib = struct.unpack("<II", data[10:18])
    if dib not in DIB_SIZES:
        raise FormatError(f"malformed BMP: unknown header size {dib}")
    if len(data) < 14 + dib:
        raise FormatError("truncated BMP: the file ends inside its header")
    if dib == 12:  # OS/2 BITMAPCOREHEADER
        width, height, _planes, bits = struct.unpack("<HHHH", data[18:26])
        compression, ppm_x, ppm_y, colours, entry = 0, 0, 0, 0, 3
    else:
        width, height, _planes, bits, compression = struct.unpack("<iiHHI", data[18:34])
        ppm_x, ppm_y, colours = struct.unpack("<iiI", data[38:50]) if dib >= 40 else (0, 0, 0)
        entry = 4
    if bits not in (1, 2, 4, 8, 16, 24, 32):
        raise FormatError(f"malformed BMP: {bits} bits per pixel")
    masks_end = 14 + dib + (12 if compression == 3 and dib == 40 else 16 if compression == 6 else 0)
    alpha = bits == 32 and compression in (3, 6) and _alpha_mask(data, dib, compression)
    grey = False
    if bits <= 8:
        n = colours or 1 << bits
        palette = data[masks_end : masks_end + entry * min(n, MAX_PALETTE)]
        grey = all(
            palette[i] == palette[i + 1] == palette[i + 2]
            for i in range(0, len(palette) - 2, entry)
        )
    return BmpHeader(
        width, abs(height), height < 0, bits, compression, offset, dib, ppm_x, ppm_y, grey, alpha
    )


def _alpha_mask(data: bytes, dib: int, compression: int) -> bool:
    """Whether the bit fields (in a V4/V5 header, or after a 40-byte one) name an alpha mask."""
    at = 14 + 52 if dib >= 56 else 14 + 40 + 12 if compression == 6 else -1
    return at > 0 and len(data) >= at + 4 and struct.unpack("<I", data[at : at + 4])[0] != 0


class BmpFormat(Format):
    id = "BMP"
    name = "BMP"
    order = ORDER_COMMON + 50
    remarks = "Windows/OS2 bitmaps: palettes, 16/24/32-bit colour, RLE; alpha flattened onto white."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return (
            head[:2] == b"BM"
            and len(head) >= 18
            and struct.unpack("<I", head[14:18])[0] in DIB_SIZES
        )

    @classmethod
    def open(cls, path: Path) -> Source:
        from cytotile.formats.pillow import declared

        header = declared.check_bmp(path, max_pixels=None)
        if header.compression in (4, 5):
            raise FormatError(
                f"BMP holding a {COMPRESSIONS[header.compression]} stream is not supported"
            )
        raw: dict[str, Any] = {
            "BMP.ImageWidth": header.width,
            "BMP.ImageHeight": header.height,
            "BMP.BitDepth": header.bits,
            "BMP.Compression": COMPRESSIONS.get(header.compression, str(header.compression)),
            "BMP.RowOrder": "top-down" if header.top_down else "bottom-up",
            "BMP.HeaderSize": header.dib_size,
        }
        if header.ppm_x > 0 and header.ppm_y > 0:
            raw.update({"BMP.PixelsPerMeterX": header.ppm_x, "BMP.PixelsPerMeterY": header.ppm_y})
        n = 1 if header.bits <= 8 and header.grey else 3
        if header.bits <= 8:
            add_note(raw, "palette expanded to " + ("grey" if n == 1 else "RGB"))
        if header.alpha:
            add_note(raw, "alpha flattened onto white")
        sizes = (
            (1e6 / header.ppm_x, 1e6 / header.ppm_y)
            if "BMP.PixelsPerMeterX" in raw
            else (None, None)
        )
        metadata = base_metadata(
            cls.id,
            header.width,
            header.height,
            n,
            "uint8",
            physical_size_x=sizes[0],
            physical_size_y=sizes[1],
            raw_metadata=raw,
        )

        def load() -> Any:
            with pixels.pillow_image(path) as image:
                image.load()
                if n == 1 and image.mode not in ("L", "LA"):
                    image = image.convert("L")
                elif n == 3 and image.mode in ("1", "L", "P"):
                    image = image.convert(
                        "RGBA" if image.mode == "P" and "transparency" in image.info else "RGB"
                    )
                return pixels.from_pillow(image)

        return VipsSource(metadata, load)
