"""A JPEG-tiled TIFF level, as the lossless re-tiling reads it: where its tiles are, how they are
coded (frame, quantization and Huffman tables, NDPI's restart intervals), and whether they can
be re-tiled in the DCT domain (:func:`probe`, :func:`check_frame`: else :class:`NotRetilable`,
saying why). The re-tiling itself is :mod:`cytotile.importer.retile`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cytotile.importer import jpegmarkers as jm
from cytotile.importer import tiffhead
from cytotile.pyramid import TILE_SIZE, TileGrid, ceil_div

__all__ = ["RST_OR_EOI", "JpegLevel", "NotRetilable", "check_frame", "probe"]


class NotRetilable(Exception):
    """The source's tiles cannot be re-tiled in the DCT domain (the reason is the message)."""


@dataclass(frozen=True)
class JpegLevel(TileGrid):
    """A JPEG-tiled TIFF page: where its tiles are and how they are coded."""

    path: Path
    width: int
    height: int
    tile_width: int
    tile_height: int
    offsets: tuple[int, ...]
    byte_counts: tuple[int, ...]
    tables: bytes | None  # JPEGTables, or None when every tile is a complete stream
    photometric: int
    frame: jm.Frame  # of the first tile
    quant: dict[int, tuple[int, ...]]
    #: NDPI: the JPEG header of one restart interval (tifffile's ``jpegheader``: the image's
    #: tables, its frame header resized to the interval, SOS); the "tiles" are the intervals
    #: (McuStarts), each entropy-coded segment decodable alone (DC predictions restart)
    header: bytes | None = None

    def stream(self, fd: int, index: int) -> bytes:
        return self.complete(os.pread(fd, self.byte_counts[index], self.offsets[index]))

    def complete(self, data: bytes) -> bytes:
        """A tile's stored bytes as a complete JPEG stream."""
        if self.header is not None:  # an interval's scan data, up to its RSTn (or the EOI)
            end = len(data) - 2 if data[-2:-1] == b"\xff" and data[-1] in RST_OR_EOI else None
            return self.header + data[:end] + b"\xff\xd9"
        return self.tables[:-2] + data[2:] if self.tables else data

    def stream_of(self, index: int) -> bytes:
        """Tile ``index`` as a complete JPEG stream."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return self.stream(fd, index)
        finally:
            os.close(fd)

    @property
    def colorspace(self) -> str:
        """How libtiff (so OpenSlide and libvips) reads the tiles: TIFF's photometric decides,
        not the JPEG markers (Aperio's tiles are RGB-coded, photometric RGB)."""
        return {1: "JCS_GRAYSCALE", 2: "JCS_RGB", 6: "JCS_YCbCr"}[self.photometric]

    @property
    def quality(self) -> int:
        """The IJG quality its luminance table matches."""
        luma = self.quant.get(self.frame.components[0][3])
        return jm.estimate_quality(luma) if luma else 85


RST_OR_EOI = frozenset(range(0xD0, 0xDA))  # RST0..RST7, (SOI), EOI


def probe(path: Path, page_index: int = 0) -> JpegLevel:
    """The page as a :class:`JpegLevel`, or :class:`NotRetilable` saying why it cannot be."""
    page = tiffhead.page(path, page_index)
    if page.compression != 7:
        raise NotRetilable(f"compression {page.compression} is not JPEG")
    if not page.tiled or page.planar != 1:
        raise NotRetilable("not tiled, or not interleaved")
    if page.bits != {8} or page.samples not in (1, 3):
        raise NotRetilable("not 8-bit grey or RGB")
    tables, header, offsets, counts = page.tables, page.header, page.offsets, page.counts
    level, tile, photometric = page.size, page.tile, page.photometric
    if not offsets or min(counts) <= 0 or len(counts) != len(offsets):
        raise NotRetilable("missing tiles")
    if min(level + tile) < 1 or len(offsets) < ceil_div(level[0], tile[0]) * ceil_div(
        level[1], tile[1]
    ):
        raise NotRetilable("the tiles do not cover the image")
    fd = os.open(path, os.O_RDONLY)
    try:
        first = os.pread(fd, counts[0], offsets[0])
    finally:
        os.close(fd)
    stream = header + first if header else tables[:-2] + first[2:] if tables else first
    try:
        frame = jm.frame(stream)
        quant = jm.quant_tables(stream)
    except ValueError as exc:
        raise NotRetilable(f"malformed JPEG tile: {exc}") from exc
    check_frame(frame, tile, photometric)
    assert frame is not None
    if header is not None and ceil_div(level[0], frame.mcu_width) % (tile[0] // frame.mcu_width):
        raise NotRetilable("the restart intervals do not tile the MCU rows")
    return JpegLevel(
        path, *level, *tile, offsets, counts, tables, photometric, frame, quant, header
    )


def check_frame(frame: jm.Frame | None, tile: tuple[int, int], photometric: int) -> None:
    """:class:`NotRetilable` unless tiles coded with ``frame`` can be re-tiled on 256x256."""
    if frame is None:
        raise NotRetilable("no frame header")
    if not frame.baseline:
        raise NotRetilable(f"not baseline Huffman JPEG (SOF {frame.marker:#x})")
    if (frame.width, frame.height) != tile:
        raise NotRetilable("tiles' frame size differs from the tile size")
    n = len(frame.components)
    if n != (1 if photometric == 1 else 3) or photometric not in (1, 2, 6):
        raise NotRetilable(f"{n} JPEG components with photometric {photometric}")
    if tile[0] % frame.mcu_width or tile[1] % frame.mcu_height:
        raise NotRetilable(f"tiles {tile[0]}x{tile[1]} are not a multiple of the MCU")
    if TILE_SIZE % frame.mcu_width or TILE_SIZE % frame.mcu_height:
        raise NotRetilable("MCU does not divide 256")
