"""JPEG structure without decoding: the frame header (SOF) and the metadata segments."""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cytotile.errors import FormatError

SOI = b"\xff\xd8\xff"
SOS = b"\xff\xda"  # 0xFF is always stuffed in entropy-coded data: this is always a marker
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
DECODABLE_SOF = {0xC0, 0xC1, 0xC2, 0xC9, 0xCA}  # baseline, extended, progressive (+arithmetic)
KEPT = {0xE0, 0xE1, 0xEE, 0xFE}  # JFIF, EXIF/XMP, Adobe, comment
MAX_HEADER = 16 << 20  # bytes read looking for the frame header


@dataclass(frozen=True)
class JpegHeader:
    width: int
    height: int
    components: int
    precision: int
    sof: int
    segments: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def progressive(self) -> bool:
        return self.sof in (0xC2, 0xC6, 0xCA, 0xCE)


def read_header(path: Path) -> JpegHeader:
    """Walk the marker segments up to the first scan; ``FormatError`` if there is no frame."""
    segments: list[tuple[int, bytes]] = []
    frame: tuple[int, bytes] | None = None
    with open(path, "rb") as fh:
        if fh.read(2) != b"\xff\xd8":
            raise FormatError("not a JPEG file")
        while fh.tell() < MAX_HEADER:
            byte = fh.read(1)
            if byte != b"\xff":
                break  # garbage where a marker must be
            while byte == b"\xff":
                byte = fh.read(1)
            if not byte:
                break
            marker = byte[0]
            if 0xD0 <= marker <= 0xD7 or marker == 0x01:
                continue
            raw_len = fh.read(2)
            if len(raw_len) < 2:
                break
            data = fh.read(max(struct.unpack(">H", raw_len)[0] - 2, 0))
            if marker in SOF_MARKERS:
                frame = (marker, data)
            elif marker in KEPT:
                segments.append((marker, data))
            elif marker in (0xDA, 0xD9):
                break
    if frame is None or len(frame[1]) < 6:
        raise FormatError("malformed or truncated JPEG: no frame header before the image data")
    marker, data = frame
    precision, height, width, components = struct.unpack(">BHHB", data[:6])
    return JpegHeader(width, height, components, precision, marker, segments)


def unsupported_reason(header: JpegHeader) -> str | None:
    if header.sof not in DECODABLE_SOF:
        return "lossless or hierarchical JPEG is not supported"
    if header.precision != 8:
        return f"{header.precision}-bit JPEG is not supported"
    if header.components not in (1, 3, 4):
        return f"JPEG with {header.components} components is not supported"
    return None


def count_scans(path: Path, limit: int) -> int:
    """Number of scans (SOS markers), counting no further than ``limit``."""
    with open(path, "rb") as fh:
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            return 0
        with mm:
            count, pos = 0, mm.find(SOS)
            while pos >= 0 and count < limit:
                count += 1
                pos = mm.find(SOS, pos + 2)
            return count
