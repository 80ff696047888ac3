"""Write the serving pyramid by repacking tiled TIFFs that libvips wrote, one per plane.

libvips writes each plane's pyramid (``tiffsave(pyramid=True)``) on an image padded so that its
floor-halved tiers contain the normalized (ceil-halved) tiers in their top-left corner. Here the
tiles of the normalized grid are copied, byte for byte, into one COG-style BigTIFF whose index
comes first (see :mod:`cytotile.tiff.layout`); the partial edge tiles are also stored as
exact-size JPEGs so that every normalized JPEG tile can be served by passthrough.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytotile import __version__
from cytotile.errors import ConversionError
from cytotile.tiff import layout as L

#: tags copied verbatim from libvips's pages (coding of the tiles)
COPIED_TAGS = (258, 259, 262, 277, 284, 317, 339, 347, 529, 530, 531, 532)


@dataclass
class _Entry:
    code: int
    ftype: int
    count: int
    data: bytes  # little-endian value bytes


@dataclass
class _Ifd:
    entries: list[_Entry] = field(default_factory=list)
    # (source fd, source offset, byte count) of each tile, row-major over the normalized grid
    tiles: list[tuple[int, int, int]] = field(default_factory=list)
    edges: list[bytes] = field(default_factory=list)

    def add(self, code: int, ftype: int, values: Sequence[int] | bytes) -> None:
        if ftype in (L.ASCII, L.UNDEFINED):
            data = bytes(values)
            self.entries.append(_Entry(code, ftype, len(data), data))
            return
        char = L.TYPES[ftype][0]
        data = struct.pack(f"<{len(values)}{char}", *values)
        self.entries.append(_Entry(code, ftype, len(values), data))

    def size(self) -> int:
        """Bytes of the IFD and its out-of-line values."""
        extra = sum(_pad8(len(e.data)) for e in self.entries if len(e.data) > 8)
        return 8 + 20 * len(self.entries) + 8 + extra


def _pad8(n: int) -> int:
    return (n + 7) & ~7


def _raw_tag(fh: Any, tag: Any) -> _Entry:
    size = L.TYPES[int(tag.dtype)][1] * tag.count
    fh.seek(tag.valueoffset)
    return _Entry(tag.code, int(tag.dtype), tag.count, fh.read(size))


#: edge tiles are a second generation (decoded, cropped, encoded again): keep that loss tiny
EDGE_QUALITY = 97


def _edge_jpeg(
    tables: bytes | None, tile: bytes, width: int, height: int, quality: int, grey: bool
) -> bytes:
    import numpy as np
    import simplejpeg

    stream = tables[:-2] + tile[2:] if tables else tile
    colorspace = "GRAY" if grey else "RGB"
    pixels = simplejpeg.decode_jpeg(stream, colorspace=colorspace)
    pixels = pixels.reshape(pixels.shape[0], pixels.shape[1], -1)
    cropped = np.ascontiguousarray(pixels[:height, :width])
    subsampling = "Gray" if grey else "444"
    quality = max(quality, EDGE_QUALITY)
    jpeg = simplejpeg.encode_jpeg(
        cropped, quality=quality, colorspace=colorspace, colorsubsampling=subsampling
    )
    return bytes(jpeg)


def _plane_ifds(
    path: Path, fd: int, sizes: list[tuple[int, int]], quality: int, first: int = 0
) -> list[_Ifd]:
    """The IFDs of tiers ``first``.. (of sizes ``sizes``) from the pages 0.. of ``path``."""
    import tifffile

    ifds: list[_Ifd] = []
    with tifffile.TiffFile(path) as tif:
        if tif.byteorder != "<":
            raise ConversionError("intermediate TIFF is not little-endian")
        pages: Any = tif.pages  # TiffPage items (no TiffFrame: pages are not cached lazily)
        if len(pages) < len(sizes):
            raise ConversionError(f"libvips wrote {len(pages)} tiers, {len(sizes)} expected")
        fh = tif.filehandle
        for n, (width, height) in enumerate(sizes):
            page, level = pages[n], first + n
            tile_w, tile_h = int(page.tilewidth), int(page.tilelength)
            if page.imagewidth < width or page.imagelength < height or tile_w == 0:
                raise ConversionError(f"intermediate tier {level} is too small or not tiled")
            src_tx = -(-int(page.imagewidth) // tile_w)
            ifd = _Ifd()
            ifd.add(L.NEW_SUBFILE_TYPE, L.LONG, [1 if level else 0])
            ifd.add(L.IMAGE_WIDTH, L.LONG, [width])
            ifd.add(L.IMAGE_LENGTH, L.LONG, [height])
            ifd.add(L.TILE_WIDTH, L.LONG, [tile_w])
            ifd.add(L.TILE_LENGTH, L.LONG, [tile_h])
            for code in COPIED_TAGS:
                if code in page.tags:
                    ifd.entries.append(_raw_tag(fh, page.tags[code]))
            n_tx, n_ty = -(-width // tile_w), -(-height // tile_h)
            where = [
                (fd, int(page.dataoffsets[i]), int(page.databytecounts[i]))
                for i in (ty * src_tx + tx for ty in range(n_ty) for tx in range(n_tx))
            ]
            ifd.tiles.extend(where)
            if page.compression == L.COMPRESSION_JPEG:
                tables = bytes(page.jpegtables) if page.jpegtables is not None else None
                for ti in L.edge_tile_indexes(width, height, tile_w):
                    _, off, count = where[ti]
                    tx, ty = ti % n_tx, ti // n_tx
                    w = min(tile_w, width - tx * tile_w)
                    h = min(tile_h, height - ty * tile_h)
                    tile = os.pread(fd, count, off)
                    grey = int(page.samplesperpixel) == 1
                    ifd.edges.append(_edge_jpeg(tables, tile, w, h, quality, grey))
            ifds.append(ifd)
    return ifds


def write_pyramid(
    out_path: Path,
    plane_tiffs: Sequence[Path],
    header: L.PyramidHeader,
    sizes: list[tuple[int, int]],
    quality: int = 85,
    overviews: Sequence[Path] = (),
    overview_level: int = 0,
) -> int:
    """Repack ``plane_tiffs`` (one libvips pyramid per plane, plane order) into ``out_path``.

    Returns the index size. ``sizes`` are the normalized tier sizes, level 0 first. With
    ``overviews`` (one per plane), tiers from ``overview_level`` on come from those pyramids
    (whose page 0 is that tier) instead of ``plane_tiffs``.
    """
    split = overview_level if overviews else len(sizes)
    paths = [*plane_tiffs, *overviews]
    fds = {p: os.open(p, os.O_RDONLY) for p in paths}
    try:
        ifds: list[_Ifd] = []
        for n, path in enumerate(plane_tiffs):
            ifds.extend(_plane_ifds(path, fds[path], sizes[:split], quality))
            if overviews:
                lower = overviews[n]
                ifds.extend(_plane_ifds(lower, fds[lower], sizes[split:], quality, split))
        return write_ifds(out_path, ifds, header)
    finally:
        for fd in fds.values():
            os.close(fd)


def jpeg_ifd(
    level: int,
    size: tuple[int, int],
    n_samples: int,
    photometric: int,
    tables: bytes | None,
    subsampling: tuple[int, int] = (2, 2),
    tile: int = 256,
) -> _Ifd:
    """The IFD of a JPEG tier whose tiles the caller adds (``tiles`` and ``edges``)."""
    ifd = _Ifd()
    ifd.add(L.NEW_SUBFILE_TYPE, L.LONG, [1 if level else 0])
    ifd.add(L.IMAGE_WIDTH, L.LONG, [size[0]])
    ifd.add(L.IMAGE_LENGTH, L.LONG, [size[1]])
    ifd.add(L.TILE_WIDTH, L.LONG, [tile])
    ifd.add(L.TILE_LENGTH, L.LONG, [tile])
    ifd.add(L.BITS_PER_SAMPLE, L.SHORT, [8] * n_samples)
    ifd.add(L.COMPRESSION, L.SHORT, [L.COMPRESSION_JPEG])
    ifd.add(L.PHOTOMETRIC, L.SHORT, [photometric])
    ifd.add(L.SAMPLES_PER_PIXEL, L.SHORT, [n_samples])
    ifd.add(L.PLANAR_CONFIG, L.SHORT, [1])
    if tables:
        ifd.add(L.JPEG_TABLES, L.UNDEFINED, tables)
    if photometric == 6:
        ifd.add(YCBCR_SUBSAMPLING, L.SHORT, list(subsampling))
    return ifd


YCBCR_SUBSAMPLING = 530


def index_room(
    ifds: list[_Ifd], header: L.PyramidHeader, counts: list[tuple[int, int]], reserve: int = 0
) -> int:
    """The index's size once ``ifds`` (plane-major, level 0 first) get IFD 0's header and
    software, and each its offsets and byte counts of ``counts`` (tiles, edge JPEGs) as zeros
    (values depending on the layout: set later, the sizes are fixed now). ``reserve`` spaces
    after the header's JSON leave room for a longer one."""
    description = header.to_json().encode() + b" " * reserve + b"\0"
    ifds[0].add(L.IMAGE_DESCRIPTION, L.ASCII, description)
    ifds[0].add(L.SOFTWARE, L.ASCII, f"cytotile {__version__}".encode() + b"\0")
    for ifd, (n_tiles, n_edges) in zip(ifds, counts, strict=True):
        ifd.add(L.TILE_OFFSETS, L.LONG8, [0] * n_tiles)
        ifd.add(L.TILE_BYTE_COUNTS, L.LONG8, [0] * n_tiles)
        if n_edges:
            ifd.add(L.EDGE_OFFSETS, L.LONG8, [0] * n_edges)
            ifd.add(L.EDGE_BYTE_COUNTS, L.LONG8, [0] * n_edges)
        ifd.entries.sort(key=lambda e: e.code)
    return _pad8(16 + L.GHOST_SIZE + sum(ifd.size() for ifd in ifds))


def write_ifds(out_path: Path, ifds: list[_Ifd], header: L.PyramidHeader) -> int:
    """Write the serving pyramid of ``ifds`` (plane-major, level 0 first); the index size."""
    index_size = index_room(ifds, header, [(len(ifd.tiles), len(ifd.edges)) for ifd in ifds])
    # data layout: all tiles in IFD order, then all edge JPEGs
    pos = index_size
    for ifd in ifds:
        offsets = []
        for _, _, count in ifd.tiles:
            offsets.append(pos)
            pos += count
        _set(ifd, L.TILE_OFFSETS, offsets)
        _set(ifd, L.TILE_BYTE_COUNTS, [count for _, _, count in ifd.tiles])
    for ifd in ifds:
        if ifd.edges:
            offsets = []
            for edge in ifd.edges:
                offsets.append(pos)
                pos += len(edge)
            _set(ifd, L.EDGE_OFFSETS, offsets)
            _set(ifd, L.EDGE_BYTE_COUNTS, [len(edge) for edge in ifd.edges])
    index = _serialize(ifds, index_size)
    with open(out_path, "wb") as out:
        out.write(index)
        for ifd in ifds:
            for fd, offset, count in ifd.tiles:
                out.write(os.pread(fd, count, offset))
        for ifd in ifds:
            for edge in ifd.edges:
                out.write(edge)
    return index_size


def _set(ifd: _Ifd, code: int, values: list[int]) -> None:
    for entry in ifd.entries:
        if entry.code == code:
            entry.data = struct.pack(f"<{len(values)}Q", *values)
            return
    raise KeyError(code)


def _serialize(ifds: list[_Ifd], index_size: int) -> bytes:
    buf = bytearray(index_size)
    first = 16 + L.GHOST_SIZE
    struct.pack_into("<2sHHHQ", buf, 0, b"II", 43, 8, 0, first)
    ghost = L.GHOST_PREFIX + f"{L.FORMAT_VERSION} index={index_size}\n".encode()
    buf[16 : 16 + len(ghost)] = ghost
    pos = first
    for n, ifd in enumerate(ifds):
        entries_end = pos + 8 + 20 * len(ifd.entries) + 8
        struct.pack_into("<Q", buf, pos, len(ifd.entries))
        extra = entries_end
        for i, entry in enumerate(ifd.entries):
            at = pos + 8 + 20 * i
            struct.pack_into("<HHQ", buf, at, entry.code, entry.ftype, entry.count)
            if len(entry.data) <= 8:
                buf[at + 12 : at + 12 + len(entry.data)] = entry.data
            else:
                struct.pack_into("<Q", buf, at + 12, extra)
                buf[extra : extra + len(entry.data)] = entry.data
                extra += _pad8(len(entry.data))
        next_ifd = extra if n + 1 < len(ifds) else 0
        struct.pack_into("<Q", buf, entries_end - 8, next_ifd)
        pos = extra
    return bytes(buf)
