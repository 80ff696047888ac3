"""WebP (lossy VP8, lossless VP8L, extended VP8X with alpha, EXIF, animation), read by libvips.

The RIFF chunks are walked without decoding: canvas size, kind, alpha, EXIF and XMP.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_COMMON, Format, Source
from cytotile.formats.common import VipsSource, add_note, base_metadata
from cytotile.formats.tiff import tags

MAX_CHUNKS = 1024
MAX_META = 1 << 20


@dataclass
class WebpHeader:
    width: int
    height: int
    kind: str  # lossy | lossless
    alpha: bool
    frames: int
    raw: dict[str, Any] = field(default_factory=dict)


def is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def read_header(path: Path) -> WebpHeader:
    size: tuple[int, int] | None = None
    kind, alpha, frames, raw = "", False, 0, {}
    with open(path, "rb") as fh:
        if not is_webp(fh.read(12)):
            raise FormatError("not a WebP file")
        for _ in range(MAX_CHUNKS):
            head = fh.read(8)
            if len(head) < 8:
                break
            fourcc, length = struct.unpack("<4sI", head)
            data = fh.read(min(length, MAX_META if fourcc in (b"EXIF", b"XMP ") else 64))
            fh.seek(fh.tell() - len(data) + length + (length & 1))
            if fourcc == b"VP8X" and len(data) >= 10:
                flags = data[0]
                alpha = bool(flags & 0x10)
                w, h = data[4:7] + b"\x00", data[7:10] + b"\x00"
                size = (struct.unpack("<I", w)[0] + 1, struct.unpack("<I", h)[0] + 1)
            elif fourcc == b"VP8 " and len(data) >= 10:
                kind = kind or "lossy"
                if data[3:6] != b"\x9d\x01\x2a":
                    raise FormatError("malformed WebP: bad VP8 frame start code")
                w, h = struct.unpack("<HH", data[6:10])
                size = size or (w & 0x3FFF, h & 0x3FFF)
            elif fourcc == b"VP8L" and len(data) >= 5:
                kind = kind or "lossless"
                if data[0] != 0x2F:
                    raise FormatError("malformed WebP: bad VP8L signature")
                bits = int.from_bytes(data[1:5], "little")
                size = size or ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
                alpha = alpha or bool(bits >> 28 & 1)
            elif fourcc == b"ALPH":
                alpha = True
            elif fourcc == b"ANMF":
                kind, frames = kind or "animated", frames + 1
            elif fourcc == b"EXIF":
                raw.update(tags.exif_tags(data if data.startswith((b"II", b"MM")) else data[6:]))
            elif fourcc == b"XMP ":
                raw["WEBP.XMP"] = data.decode("utf-8", "replace")[:4096]
    if size is None:
        raise FormatError("malformed or truncated WebP: no image chunk (VP8, VP8L or VP8X)")
    return WebpHeader(size[0], size[1], kind or "unknown", alpha, max(frames, 1), raw)


class WebpFormat(Format):
    id = "WEBP"
    name = "WebP"
    order = ORDER_COMMON + 40
    remarks = "Lossy and lossless WebP; transparency is flattened onto white; first frame only."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return is_webp(head)

    @classmethod
    def open(cls, path: Path) -> Source:
        from cytotile.formats.pillow import declared

        header = declared.check_webp(path, max_pixels=None)
        raw: dict[str, Any] = {
            "WEBP.ImageWidth": header.width,
            "WEBP.ImageHeight": header.height,
            "WEBP.Compression": header.kind,
            "WEBP.Alpha": header.alpha,
            "WEBP.Frames": header.frames,
            **header.raw,
        }
        if header.alpha:
            add_note(raw, "alpha flattened onto white")
        if header.frames > 1:
            add_note(raw, "animated WebP: first frame only")
        px, py = tags.physical_sizes(raw, "exif")
        metadata = base_metadata(
            cls.id,
            header.width,
            header.height,
            3,
            "uint8",
            physical_size_x=px,
            physical_size_y=py,
            acquired_at=tags.acquisition_date(raw),
            description=raw.get("exif.ImageDescription"),
            raw_metadata=raw,
        )

        def load() -> Any:
            import pyvips

            image = pyvips.Image.webpload(str(path), access="sequential", fail_on="error")
            if image.bands in (1, 2):  # libvips gives RGB(A); guard against grey all the same
                image = image.colourspace("srgb")
            return image

        return VipsSource(metadata, load)
