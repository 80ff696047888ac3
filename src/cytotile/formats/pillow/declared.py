"""Declared sizes of the common formats checked before any decoder runs (called by
:mod:`cytotile.formats.safety`): sides, pixel count, and pixels that must fit in the file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats.pillow import bmp, gif, jp2head, netpbm, webp

UNCOMPRESSED_RATIO = 1.5  # every byte must be there (a missing row padding is tolerated)
RLE_RATIO = 130.0  # BMP RLE8: 255 pixels in 2 bytes; RLE4: 255 half-bytes in 2 bytes
LZW_RATIO = 3000.0  # GIF: 12-bit codes for strings of up to 4096 bytes
JPEG2000_RATIO = 50_000.0
WEBP_MAX_SIDE = 16384  # the VP8 and VP8L frame headers hold 14 bits


def _limits() -> Any:
    from cytotile.formats import safety  # safety imports this module lazily: no cycle

    return safety


def check_jpeg2000(path: Path, *, max_pixels: int | None) -> jp2head.Jp2Header:
    header = jp2head.read_header(path)
    safety = _limits()
    safety.check_dimensions(header.width, header.height, max_pixels=max_pixels, what="JPEG 2000")
    raw = header.width * header.height * header.components * (2 if header.bits > 8 else 1)
    stored = os.path.getsize(path) - header.codestream_offset
    safety.check_ratio(raw, stored, JPEG2000_RATIO, what="JPEG 2000")
    return header


def check_webp(path: Path, *, max_pixels: int | None) -> webp.WebpHeader:
    header = webp.read_header(path)
    _limits().check_dimensions(header.width, header.height, max_pixels=max_pixels, what="WebP")
    if header.width > WEBP_MAX_SIDE or header.height > WEBP_MAX_SIDE:
        raise FormatError(
            f"WebP declares {header.width}x{header.height}: a side exceeds the format's "
            f"{WEBP_MAX_SIDE}"
        )
    return header


def check_bmp(path: Path, *, max_pixels: int | None) -> bmp.BmpHeader:
    header = bmp.read_header(path)
    safety = _limits()
    safety.check_dimensions(header.width, header.height, max_pixels=max_pixels, what="BMP")
    stored = os.path.getsize(path) - header.data_offset
    if stored <= 0:
        raise FormatError("truncated BMP: its pixel data starts past the end of the file")
    ratio = RLE_RATIO if header.compression in (1, 2) else UNCOMPRESSED_RATIO
    if header.compression not in (4, 5):
        safety.check_ratio(header.raw_bytes, stored, ratio, what="BMP")
    return header


def check_pnm(path: Path, *, max_pixels: int | None) -> netpbm.PnmHeader:
    header = netpbm.read_header(path)
    safety = _limits()
    safety.check_dimensions(header.width, header.height, max_pixels=max_pixels, what="Netpbm")
    stored = os.path.getsize(path) - header.data_offset
    safety.check_ratio(header.raw_bytes, stored, UNCOMPRESSED_RATIO, what="Netpbm")
    return header


def check_gif(path: Path, *, max_pixels: int | None) -> gif.GifHeader:
    header = gif.read_header(path)
    safety = _limits()
    safety.check_dimensions(header.width, header.height, max_pixels=max_pixels, what="GIF")
    safety.check_ratio(header.width * header.height, os.path.getsize(path), LZW_RATIO, what="GIF")
    return header


Checker = Callable[..., Any]


def checker(head: bytes) -> Checker | None:
    """The check of the common format ``head`` starts with, if any."""
    if head.startswith((jp2head.JP2_SIGNATURE, jp2head.J2K_SIGNATURE)):
        return check_jpeg2000
    if webp.is_webp(head):
        return check_webp
    if head[:2] == b"BM":
        return check_bmp
    if netpbm.is_pnm(head):
        return check_pnm
    if gif.is_gif(head):
        return check_gif
    return None
