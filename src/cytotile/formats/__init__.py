"""The image formats cytotile imports, and format detection from content (never the extension).

``FORMATS`` is ordered: the first format whose checker matches wins, so specific formats come
before the generic ones they are special cases of (SVS before pyramidal TIFF before planar TIFF).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety, tiffutil
from cytotile.formats.base import Format
from cytotile.formats.common import decoding
from cytotile.formats.jpeg import JpegFormat
from cytotile.formats.planar_tiff import PlanarTiffFormat
from cytotile.formats.png import PngFormat
from cytotile.formats.pyramidal_tiff import PyramidalTiffFormat
from cytotile.formats.svs import SvsFormat

__all__ = ["FORMATS", "decoding", "describe_formats", "detect", "format_by_id", "sniff"]

FORMATS: tuple[type[Format], ...] = (
    SvsFormat,
    PyramidalTiffFormat,
    PlanarTiffFormat,
    JpegFormat,
    PngFormat,
)
HEAD_SIZE = 4096

#: (offset, signature, what it is) of content we can name but do not import
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000 (JP2)"),
    (0, b"\xffO\xffQ", "a JPEG 2000 codestream"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (0, b"\xff\x0a", "a JPEG XL codestream"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"ZISRAWFILE", "Zeiss CZI"),
    (0, b"\xda\xce\xbe\x0a", "Nikon ND2"),
    (0, b"\x89HDF\r\n\x1a\n", "HDF5"),
    (0, b"8BPS", "Photoshop PSD"),
    (0, b"%PDF", "PDF"),
    (0, b"PK\x03\x04", "a ZIP archive"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"BZh", "a bzip2 archive"),
    (0, b"\xfd7zXZ\x00", "an xz archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (257, b"ustar", "a tar archive"),
    (128, b"DICM", "DICOM"),
)
FTYP_BRANDS = {
    b"heic": "HEIF",
    b"heix": "HEIF",
    b"mif1": "HEIF",
    b"avif": "AVIF",
    b"qt  ": "QuickTime",
}


def sniff(head: bytes) -> str | None:
    """Name the kind of content in ``head`` when it is something well known, else ``None``."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return {b"WEBP": "WebP", b"AVI ": "AVI video", b"WAVE": "WAV audio"}[head[8:12]]
    if head[4:8] == b"ftyp":
        return FTYP_BRANDS.get(head[8:12], "MP4")
    if head[:2] == b"P" + head[1:2] and head[1:2] in b"1234567" and head[2:3] in b" \t\r\n":
        return "Netpbm (PGM/PPM)"
    for offset, signature, what in SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return what
    stripped = head.lstrip()
    if stripped[:5] in (b"<?xml", b"<svg ", b"<!DOC", b"<html"):
        return "SVG/XML/HTML text"
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head[:512]):
        return "a text file"
    return None


def detect(path: Path, *, max_pixels: int | None = safety.DEFAULT_MAX_PIXELS) -> type[Format]:
    """The format of the file at ``path`` from its content, its declared sizes checked.
    ``FormatError`` (a human reason) for empty, unknown, unsupported, malformed or bomb files."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_SIZE)
    if not head:
        raise FormatError("empty file")
    for fmt in FORMATS:
        if fmt.match(path, head):
            safety.check_file(path, max_pixels=max_pixels)
            return fmt
    if tiffutil.is_tiff(head):
        raise FormatError(f"unsupported TIFF: {tiffutil.why_unsupported(tiffutil.inspect(path))}")
    what = sniff(head)
    looks = f"looks like {what}" if what else "unrecognized content"
    raise FormatError(f"not a supported image format ({looks})")


def format_by_id(format_id: str) -> type[Format]:
    """The format of a PIMS identifier (case-insensitive); ``KeyError`` when unknown."""
    for fmt in FORMATS:
        if fmt.id == format_id.upper():
            return fmt
    raise KeyError(format_id)


def describe_formats() -> list[dict[str, Any]]:
    """What ``GET /formats`` lists (PIMS ``format`` schema)."""
    return [
        {
            "id": fmt.id,
            "name": fmt.name,
            "remarks": getattr(fmt, "remarks", ""),
            "convertible": True,
            "readable": fmt.native,
            "native": fmt.native,
            "writable": fmt.id == "PYRTIFF",
            "plugin": fmt.__module__,
        }
        for fmt in FORMATS
    ]
