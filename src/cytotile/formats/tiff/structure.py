"""TIFF structure read once with tifffile (tags only, never pixels), shared by the TIFF formats."""

from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats.tiff import tags

TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
MAX_PAGES = 64  # pages looked at; enough for any pyramid plus associated images

#: tifffile flags of vendor formats: their first page alone is not the image
VENDORS = {
    "svs": "Aperio SVS",
    "ndpi": "Hamamatsu NDPI",
    "scn": "Leica SCN",
    "philips": "Philips TIFF",
    "bif": "Ventana BIF",
    "qpi": "PerkinElmer QPI",
    "lsm": "Zeiss LSM",
    "stk": "MetaMorph STK",
    "sis": "Olympus SIS",
    "fluoview": "Olympus FluoView",
    "dng": "Adobe DNG (camera raw)",
}
#: compressions libvips decodes here (none, CCITT, LZW, JPEG, deflate, PackBits)
DECODABLE = {1, 2, 3, 4, 5, 7, 8, 32773, 32946}
JPEG2000 = {33003, 33004, 33005, 34712}
PHOTOMETRIC_OK = {0, 1, 2, 3, 6}  # min-is-white, min-is-black, RGB, palette, YCbCr


@dataclass(frozen=True)
class TiffPage:
    index: int
    width: int
    height: int
    samples: int
    bits: int
    sample_format: int  # 1 unsigned, 2 signed, 3 float
    photometric: int
    compression: int
    planar: int
    tiled: bool
    tile_width: int
    tile_height: int
    description: str
    n_chunks: int  # strips or tiles present
    expected_chunks: int  # strips or tiles the geometry needs
    stored_bytes: int  # sum of strip/tile byte counts
    data_end: int  # largest offset + byte count

    @property
    def raw_bytes(self) -> int:
        return self.width * self.height * self.samples * self.bits // 8


@dataclass(frozen=True)
class TiffInfo:
    path: str
    file_size: int
    n_pages: int
    pages: tuple[TiffPage, ...]
    flags: frozenset[str]
    raw: dict[str, Any] = field(default_factory=dict)  # "tiff.*" / "exif.*" of page 0

    @property
    def vendor(self) -> str | None:
        return next((name for flag, name in VENDORS.items() if flag in self.flags), None)


def is_tiff(head: bytes) -> bool:
    return head[:4] in TIFF_MAGICS


def inspect(path: Path) -> TiffInfo:
    """Structure of a TIFF file; ``FormatError`` when it is malformed. Cached per file version."""
    st = os.stat(path)
    return _inspect(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _inspect(path: str, mtime_ns: int, size: int) -> TiffInfo:
    _check_first_ifd(path, size)
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            n_pages = len(tif.pages)
            if n_pages == 0:
                raise FormatError("malformed TIFF: no readable image directory (IFD)")
            pages = tuple(_page(tif.pages[i], i) for i in range(min(n_pages, MAX_PAGES)))
            flags = frozenset(tif.flags)
            raw = tags.raw_tags(tif.pages[0])
    except FormatError:
        raise
    except Exception as exc:  # tifffile raises many kinds on malformed input
        raise FormatError(f"malformed TIFF: {exc}") from exc
    return TiffInfo(path, size, n_pages, pages, flags, raw)


def _check_first_ifd(path: str, size: int) -> None:
    with open(path, "rb") as fh:
        head = fh.read(16)
    order = "<" if head[:2] == b"II" else ">"
    if head[2:4] in (b"*\x00", b"\x00*") and len(head) >= 8:
        offset = struct.unpack(order + "I", head[4:8])[0]
    elif len(head) >= 16:
        offset = struct.unpack(order + "Q", head[8:16])[0]
    else:
        raise FormatError("malformed TIFF: the file ends inside its header")
    if offset < 8 or offset >= size:
        raise FormatError(
            f"malformed TIFF: first image directory at offset {offset}, "
            f"outside the {size}-byte file"
        )


def _page(page: Any, index: int) -> TiffPage:
    offsets = [int(v) for v in page.dataoffsets]
    counts = [int(v) for v in page.databytecounts]
    ends = [o + c for o, c in zip(offsets, counts, strict=False) if c > 0]
    tiled = bool(page.is_tiled)
    width, height = int(page.imagewidth), int(page.imagelength)
    planes = int(page.samplesperpixel) if int(page.planarconfig) == 2 else 1
    if tiled:
        tw, th = int(page.tilewidth), int(page.tilelength)
        expected = _ceil(width, tw) * _ceil(height, th) * planes
    else:
        tw = th = 0
        rows = int(page.rowsperstrip) or height
        expected = _ceil(height, min(max(rows, 1), max(height, 1))) * planes
    return TiffPage(
        index=index,
        width=width,
        height=height,
        samples=int(page.samplesperpixel),
        bits=int(page.bitspersample),
        sample_format=int(page.sampleformat),
        photometric=int(page.photometric),
        compression=int(page.compression),
        planar=int(page.planarconfig),
        tiled=tiled,
        tile_width=tw,
        tile_height=th,
        description=str(page.description or ""),
        n_chunks=len(offsets),
        expected_chunks=expected,
        stored_bytes=sum(counts),
        data_end=max(ends, default=0),
    )


def _ceil(a: int, b: int) -> int:
    return -(-a // b) if b > 0 else 0


def unsupported_reason(page: TiffPage) -> str | None:
    """Why a page cannot be a plain 8/16-bit grey or RGB image we decode; ``None`` if it can."""
    if page.sample_format == 3:
        return f"{page.bits}-bit floating-point samples are not supported yet"
    if page.sample_format not in (1, 4):  # 4: undefined, read as unsigned
        return f"signed {page.bits}-bit samples are not supported yet"
    if page.bits not in (1, 2, 4, 8, 16):
        return f"{page.bits}-bit samples are not supported"
    if page.bits < 8 and (page.samples != 1 or page.photometric not in (0, 1, 3)):
        return f"{page.bits}-bit colour images are not supported"
    if page.photometric not in PHOTOMETRIC_OK:
        names = {4: "transparency mask", 5: "CMYK (separated)", 8: "CIELAB", 32844: "LogL"}
        return f"{names.get(page.photometric, f'photometric {page.photometric}')} is not supported"
    if page.samples not in (1, 2, 3, 4):
        return f"{page.samples} samples per pixel are not supported yet"
    if page.compression == 6:
        return "old-style JPEG compression (6) is only supported for 8-bit YCbCr or RGB"
    if page.compression in JPEG2000:
        return "JPEG 2000 compression is only supported in Aperio SVS"
    if page.compression not in DECODABLE:
        return f"compression {page.compression} is not supported"
    return None


def pyramid_pages(info: TiffInfo) -> list[TiffPage]:
    """Page 0 and the tiled pages after it that form levels of decreasing size."""
    levels = [info.pages[0]]
    for page in info.pages[1:]:
        prev = levels[-1]
        same_kind = (page.samples, page.bits, page.photometric) == (
            prev.samples,
            prev.bits,
            prev.photometric,
        )
        smaller = page.width <= prev.width and page.height <= prev.height
        smaller = smaller and page.width * page.height < prev.width * prev.height
        if not (page.tiled and same_kind and smaller):
            break
        levels.append(page)
    return levels if levels[0].tiled else levels[:1]


def why_unsupported(info: TiffInfo) -> str:
    """A human reason for a TIFF that no format accepted."""
    if info.vendor:
        return f"{info.vendor} is not supported yet"
    return unsupported_reason(info.pages[0]) or "this kind of TIFF is not supported yet"
