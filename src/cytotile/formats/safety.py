"""Checks of declared sizes before any decoder runs: lying headers are refused in milliseconds.

A header can declare any size; the pixels must fit in the file. Each codec has a best possible
compression ratio (deflate about 1032:1, Huffman JPEG about 1365:1 at its most extreme sampling,
measured 512:1 for a flat 4:2:0 image): a declared raw size beyond ``ratio x stored bytes`` is a
lie, or a bomb. Also refused: sizes <= 0, more than ``max_pixels``, data past the end of file.
"""

from __future__ import annotations

import os
from pathlib import Path

from cytotile.errors import FormatError
from cytotile.formats.pillow import jpeghead, pnghead
from cytotile.formats.tiff import structure
from cytotile.formats.tiff.structure import TiffInfo, TiffPage

DEFAULT_MAX_PIXELS = 2**32
MAX_SIDE = 10_000_000  # libvips' largest coordinate
MAX_JPEG_SCANS = 256  # progressive JPEGs use about 10; thousands make decoders crawl

DEFLATE_RATIO = 1100.0
JPEG_RATIO = 2000.0
TIFF_RATIOS = {
    1: 1.5,  # uncompressed: every byte must be there
    2: 50_000.0,  # CCITT RLE / fax G3 / G4 on 1-bit pages
    3: 50_000.0,
    4: 50_000.0,
    5: 3_000.0,  # LZW: 12-bit codes for strings of up to ~3800 bytes
    7: JPEG_RATIO,
    8: DEFLATE_RATIO,
    32946: DEFLATE_RATIO,
    32773: 70.0,  # PackBits: 128 bytes in 2
}
OTHER_RATIO = 50_000.0  # JPEG 2000 and the rest


def check_dimensions(width: int, height: int, *, max_pixels: int | None, what: str) -> None:
    if width <= 0 or height <= 0:
        raise FormatError(f"{what} declares an empty or negative size ({width}x{height})")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise FormatError(f"{what} declares {width}x{height} pixels: a side exceeds {MAX_SIDE}")
    if max_pixels is not None and width * height > max_pixels:
        raise FormatError(
            f"{what} declares {width}x{height} = {width * height} pixels, "
            f"more than the limit of {max_pixels}"
        )


def check_ratio(raw_bytes: int, stored_bytes: int, max_ratio: float, *, what: str) -> None:
    if raw_bytes > max_ratio * max(stored_bytes, 1):
        raise FormatError(
            f"{what} declares {raw_bytes} bytes of pixels stored in {stored_bytes} bytes: "
            f"more than the {max_ratio:g}:1 its compression can reach (corrupt or a bomb)"
        )


def check_png(path: Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> pnghead.PngHeader:
    header = pnghead.read_header(path)
    check_dimensions(header.width, header.height, max_pixels=max_pixels, what="PNG")
    size = os.path.getsize(path)
    check_ratio(header.raw_bytes, size, DEFLATE_RATIO, what="PNG")
    return header


def check_jpeg(path: Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> jpeghead.JpegHeader:
    header = jpeghead.read_header(path)
    check_dimensions(header.width, header.height, max_pixels=max_pixels, what="JPEG")
    size = os.path.getsize(path)
    check_ratio(header.width * header.height * header.components, size, JPEG_RATIO, what="JPEG")
    scans = jpeghead.count_scans(path, limit=MAX_JPEG_SCANS + 1)
    if scans > MAX_JPEG_SCANS:
        raise FormatError(f"JPEG has more than {MAX_JPEG_SCANS} scans: refused (decoding bomb)")
    return header


def check_tiff_page(info: TiffInfo, page: TiffPage, *, max_pixels: int | None) -> None:
    what = f"TIFF page {page.index}"
    check_dimensions(page.width, page.height, max_pixels=max_pixels, what=what)
    if page.tiled and not (0 < page.tile_width <= 65536 and 0 < page.tile_height <= 65536):
        raise FormatError(f"{what} declares tiles of {page.tile_width}x{page.tile_height}")
    if page.n_chunks < page.expected_chunks:
        kind = "tiles" if page.tiled else "strips"
        raise FormatError(
            f"{what} has {page.n_chunks} {kind} where its size needs {page.expected_chunks}"
        )
    if page.data_end > info.file_size:
        raise FormatError(
            f"{what} is truncated: its data runs to byte {page.data_end} "
            f"of a {info.file_size}-byte file"
        )
    ratio = TIFF_RATIOS.get(page.compression, OTHER_RATIO)
    check_ratio(page.raw_bytes, page.stored_bytes, ratio, what=what)


def check_tiff(
    info: TiffInfo, pages: list[TiffPage], *, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> None:
    """Check the pages that will be decoded (the pixel limit applies to the largest, page 0)."""
    for i, page in enumerate(pages):
        check_tiff_page(info, page, max_pixels=max_pixels if i == 0 else None)


def check_file(path: Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
    """Check what the decoders will be asked to read, by content; unknown content passes (the
    format checkers refuse it)."""
    from cytotile.formats.pillow import declared

    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(pnghead.SIGNATURE):
        check_png(path, max_pixels=max_pixels)
    elif head.startswith(jpeghead.SOI):
        check_jpeg(path, max_pixels=max_pixels)
    elif structure.is_tiff(head):
        info = structure.inspect(path)
        check_tiff(info, structure.pyramid_pages(info), max_pixels=max_pixels)
    elif (check := declared.checker(head)) is not None:
        check(path, max_pixels=max_pixels)
