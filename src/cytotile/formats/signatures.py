"""Names for content no format accepted, so that a refusal says what the file looks like."""

from __future__ import annotations

#: (offset, signature, what it is) of content we can name
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
    b"hevc": "HEIF",
    b"mif1": "HEIF",
    b"msf1": "HEIF",
    b"avif": "AVIF",
    b"avis": "AVIF",
    b"qt  ": "QuickTime",
}


def sniff(head: bytes) -> str | None:
    """Name the kind of content in ``head`` when it is something well known, else ``None``."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return {b"WEBP": "WebP", b"AVI ": "AVI video", b"WAVE": "WAV audio"}[head[8:12]]
    if head[4:8] == b"ftyp":
        return FTYP_BRANDS.get(head[8:12], "MP4")
    if head[:4] == b"\x70\x00\x00\x00" and head[8:9] == b"\x2a":
        return "Leica LIF"
    if head[:2] == b"P" + head[1:2] and head[1:2] in b"1234567" and head[2:3] in b" \t\r\n":
        return "Netpbm (PGM/PPM)"
    for offset, signature, what in SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return what
    stripped = head.lstrip()
    if b"<svg" in stripped[:1024] and stripped[:1] == b"<":
        return "SVG vector graphics (not a raster image)"
    if stripped[:5] in (b"<?xml", b"<svg ", b"<!DOC", b"<html"):
        return "SVG/XML/HTML text"
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head[:512]):
        return "a text file"
    return None
