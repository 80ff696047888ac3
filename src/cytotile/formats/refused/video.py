"""Video containers (MP4/QuickTime, AVI, Matroska/WebM): recognised, named, refused.

PIMS imports MP4 as a time series; here no reader of the import step decodes H.264 or other
video codecs (libvips, Pillow and imagecodecs do not; PyAV would bring a whole FFmpeg build into
the import Lambda), so the upload ends in ERROR_FORMAT with the container and codec named.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_LAST, Format, Source

CODECS = {
    "avc1": "H.264",
    "avc3": "H.264",
    "hvc1": "H.265/HEVC",
    "hev1": "H.265/HEVC",
    "mp4v": "MPEG-4 Part 2",
    "av01": "AV1",
    "vp09": "VP9",
    "jpeg": "Motion JPEG",
    "mjpa": "Motion JPEG",
    "ap4h": "ProRes",
    "apcn": "ProRes",
}
CONTAINERS = {b"AVI ": "AVI"}
#: HEIF and AVIF still images and image sequences: ISO media too, but not video
STILL_BRANDS = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis")
MAX_BOXES = 4096
PATH = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")


def container(head: bytes) -> str | None:
    if head[4:8] == b"ftyp" and head[8:12] not in STILL_BRANDS:
        return "QuickTime" if head[8:12] == b"qt  " else "MP4"
    if head[:4] == b"RIFF" and head[8:12] in CONTAINERS:
        return CONTAINERS[head[8:12]]
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "WebM" if b"webm" in head[:64] else "Matroska"
    return None


def codecs(path: Path) -> list[str]:
    """The sample entry types of the video tracks of an ISO media file (``avc1``...), found by
    walking moov/trak/mdia/minf/stbl/stsd without reading the media data."""
    found: list[str] = []
    with open(path, "rb") as fh:
        end = fh.seek(0, 2)
        _walk(fh, 0, end, 0, found, [MAX_BOXES])
    return found


def _walk(
    fh: BinaryIO, start: int, end: int, depth: int, found: list[str], budget: list[int]
) -> None:
    pos = start
    while pos + 8 <= end and budget[0] > 0:
        budget[0] -= 1
        fh.seek(pos)
        size, kind = struct.unpack(">I4s", fh.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", fh.read(8))[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        if depth < len(PATH) and kind == PATH[depth]:
            if kind == b"stsd":
                fh.seek(pos + header + 8)
                entry = fh.read(8)
                if len(entry) == 8:
                    found.append(entry[4:8].decode("latin-1"))
            else:
                _walk(fh, pos + header, min(pos + size, end), depth + 1, found, budget)
        pos += size


class VideoFormat(Format):
    id = "MP4"
    name = "Video (MP4, QuickTime, AVI, Matroska)"
    order = ORDER_LAST + 10
    importable = False
    remarks = "Recognised and refused: no video decoder (H.264...) in the import step."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return container(head) is not None

    @classmethod
    def open(cls, path: Path) -> Source:
        with open(path, "rb") as fh:
            head = fh.read(64)
        what = container(head) or "video"
        found = codecs(path) if what in ("MP4", "QuickTime") else []
        names = [f"{CODECS.get(c, c)} ({c!r})" for c in found if c not in ("mp4a", "text")]
        codec = f", video track {', '.join(names)}" if names else ""
        raise FormatError(
            f"{what} video{codec}: video is not supported: no reader in the import step "
            "decodes video (export the frames as TIFF or PNG images to import them)"
        )
