"""The few tags of one TIFF page that the re-tiling's probe needs (:func:`page`), read straight
from the file.

tifffile's ``TiffFile`` takes about 1 ms to open a slide and its first page (every tag parsed
and typed), on the conversion's serial start; these reads take about 0.1 ms. Classic TIFF and
BigTIFF, either byte order. Whatever this does not expect (a tag of an unexpected type, an
NDPI, a page it cannot reach, values past the file's end) gives None (:func:`page_tags`), and
:func:`page` asks tifffile, which reads any TIFF or says why not.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ImageWidth, ImageLength, BitsPerSample, Compression, Photometric, SamplesPerPixel,
#: PlanarConfiguration, TileWidth, TileLength, TileOffsets, TileByteCounts, JPEGTables
WANTED = frozenset({256, 257, 258, 259, 262, 277, 284, 322, 323, 324, 325, 347})
#: tags of pages this does not read: NDPI's (its restart intervals: tifffile's jpegheader),
#: TileDepth (volumes)
REFUSED = frozenset({65420, 32998})
#: the field types read and their sizes: BYTE, SHORT, LONG, UNDEFINED, LONG8
SIZES = {1: 1, 3: 2, 4: 4, 7: 1, 16: 8}
INTEGERS = {1: "B", 3: "H", 4: "I", 16: "Q"}
MAX_ENTRIES = 4096  # an IFD's
MAX_PAGES = 64  # walked to reach a page
MAX_VALUE = 1 << 26  # bytes of one tag's values (8 M tile offsets of 8 bytes)

Tags = dict[int, tuple[int, ...] | bytes]


@dataclass(frozen=True)
class Page:
    """What the re-tiling's probe (:func:`~cytotile.importer.jpeglevel.probe`) reads of a TIFF
    page."""

    compression: int
    tiled: bool
    planar: int
    bits: frozenset[int]  # the samples' bit depths (one, when they agree)
    samples: int
    tables: bytes | None
    header: bytes | None  # NDPI's
    offsets: tuple[int, ...]
    counts: tuple[int, ...]
    size: tuple[int, int]
    tile: tuple[int, int]
    photometric: int


def page(path: Path, page_index: int = 0) -> Page:
    """Page ``page_index``'s :class:`Page`: its tags read here (:func:`page_tags`, ~0.1 ms)
    when they are plain, else by tifffile (~1 ms: any TIFF, NDPI included)."""
    tags = page_tags(path, page_index)
    if tags is not None and {256, 257, 262, 322, 323, 324, 325} <= tags.keys():
        one = {code: int(value[0]) for code, value in tags.items() if code != 347}
        jpegtables = tags.get(347)
        return Page(
            compression=one.get(259, 1),
            tiled=True,
            planar=one.get(284, 1),
            bits=frozenset(tags.get(258, (1,))),
            samples=one.get(277, 1),
            tables=jpegtables if isinstance(jpegtables, bytes) else None,
            header=None,
            offsets=tuple(tags[324]),
            counts=tuple(tags[325]),
            size=(one[256], one[257]),
            tile=(one[322], one[323]),
            photometric=one[262],
        )
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page: Any = tif.pages[page_index]
        bits = page.bitspersample
        return Page(
            compression=int(page.compression),
            tiled=bool(page.is_tiled),
            planar=int(page.planarconfig),
            bits=frozenset(bits) if isinstance(bits, tuple) else frozenset({int(bits)}),
            samples=int(page.samplesperpixel),
            tables=bytes(page.jpegtables) if page.jpegtables is not None else None,
            header=bytes(page.jpegheader) if page.is_ndpi else None,
            offsets=tuple(int(v) for v in page.dataoffsets),
            counts=tuple(int(v) for v in page.databytecounts),
            size=(int(page.imagewidth), int(page.imagelength)),
            tile=(int(page.tilewidth), int(page.tilelength)),
            photometric=int(page.photometric),
        )


def page_tags(path: Path, page_index: int = 0) -> Tags | None:
    """The :data:`WANTED` tags of page ``page_index`` present there (integers as tuples,
    JPEGTables as bytes), or None when this reader leaves the page to tifffile."""
    if not 0 <= page_index < MAX_PAGES:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        return _read(fd, os.fstat(fd).st_size, page_index)
    except (struct.error, OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _read(fd: int, size: int, page_index: int) -> Tags | None:
    head = os.pread(fd, 16, 0)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 8:
        return None
    (magic,) = struct.unpack_from(order + "H", head, 2)
    if magic == 42:
        count_fmt, entry_size, offset_fmt = "H", 12, "I"
        (ifd,) = struct.unpack_from(order + "I", head, 4)
    elif magic == 43 and len(head) == 16 and struct.unpack_from(order + "HH", head, 4) == (8, 0):
        count_fmt, entry_size, offset_fmt = "Q", 20, "Q"
        (ifd,) = struct.unpack_from(order + "Q", head, 8)
    else:
        return None
    count_size, inline = struct.calcsize(count_fmt), struct.calcsize(offset_fmt)
    for _ in range(page_index):  # the next IFD's offset follows each IFD's entries
        n = _count(fd, order + count_fmt, ifd, size)
        if n is None:
            return None
        at = ifd + count_size + n * entry_size
        (ifd,) = struct.unpack(order + offset_fmt, os.pread(fd, inline, at))
    n = _count(fd, order + count_fmt, ifd, size)
    if n is None:
        return None
    entries = os.pread(fd, n * entry_size, ifd + count_size)
    entry_fmt = order + "HH" + offset_fmt
    tags: Tags = {}
    for k in range(n):
        code, ftype, count = struct.unpack_from(entry_fmt, entries, k * entry_size)
        if code in REFUSED:
            return None
        if code not in WANTED:
            continue
        if ftype not in ((1, 7) if code == 347 else (3, 4, 16)) or count < 1:
            return None
        nbytes = SIZES[ftype] * count
        if nbytes > MAX_VALUE:
            return None
        value_at = k * entry_size + 4 + inline
        if nbytes <= inline:
            raw = entries[value_at : value_at + nbytes]
        else:
            (offset,) = struct.unpack_from(order + offset_fmt, entries, value_at)
            if offset + nbytes > size:
                return None
            raw = os.pread(fd, nbytes, offset)
        tags[code] = raw if code == 347 else struct.unpack(f"{order}{count}{INTEGERS[ftype]}", raw)
    return tags


def _count(fd: int, fmt: str, ifd: int, size: int) -> int | None:
    """The number of entries of the IFD at ``ifd``, or None when it is not in the file."""
    if not 8 <= ifd < size:
        return None
    (n,) = struct.unpack(fmt, os.pread(fd, struct.calcsize(fmt), ifd))
    return n if 0 < n <= MAX_ENTRIES else None
