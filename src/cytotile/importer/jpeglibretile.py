"""The re-tiling through libjpeg (``jpeglib``'s builds), when the C codec is not built.

Each band of output rows reads the coefficients of the source rows it spans (a row of source
tiles kept at a time, :class:`_Reader`), copies each output tile's blocks out of up to four
source tiles and has libjpeg write it with optimized Huffman tables (its DHT stays in the tile;
the level's ``JPEGTables`` holds the DQT). The same tiles, pixel for pixel, as the C codec's,
at about 4x its CPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytotile.importer import jpegmarkers as jm
from cytotile.importer.dctcodec import Codec, CodecError
from cytotile.importer.dctretile import blank_padding
from cytotile.importer.retile import JpegLevel, NotRetilable, RetiledTile
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np


def level_tables(level: JpegLevel, workdir: Path | None) -> Any:
    """The level's quantization tables, as libjpeg reads them from tile 0."""
    first = Codec(level.frame, level.colorspace, workdir)
    try:
        first.read(level.stream_of(0), level.tile_width, level.tile_height)
    except CodecError as exc:
        raise NotRetilable(f"tile 0: {exc}") from exc
    finally:
        first.close()
    return first.qt


class _Reader:
    """Coefficients of source tiles, one row of tiles kept at a time (bounded memory)."""

    def __init__(self, level: JpegLevel, codec: Codec) -> None:
        self.level, self.codec = level, codec
        self.fd = os.open(level.path, os.O_RDONLY)
        self.rows: dict[int, list[list[np.ndarray]]] = {}

    def row(self, ty: int) -> list[list[np.ndarray]]:
        if ty not in self.rows:
            self.rows[ty] = [self._tile(ty * self.level.n_tx + tx) for tx in range(self.level.n_tx)]
        return self.rows[ty]

    def forget(self, l0_y: int) -> None:
        """Drop the rows of source tiles above pixel row ``l0_y`` (no longer needed)."""
        for old in [k for k in self.rows if (k + 1) * self.level.tile_height <= l0_y]:
            del self.rows[old]

    def _tile(self, index: int) -> list[np.ndarray]:
        level = self.level
        data = os.pread(self.fd, level.byte_counts[index], level.offsets[index])
        # the tile's own frame header (an NDPI interval has none: the image's header, probed)
        if level.header is None:
            self._check(index, data)
        stream = level.complete(data)
        frame = level.frame
        try:
            return self.codec.read(stream, frame.width, frame.height)
        except CodecError as exc:
            raise NotRetilable(f"tile {index}: {exc}") from exc

    def _check(self, index: int, data: bytes) -> None:
        """:class:`NotRetilable` unless the tile's frame header is the level's."""
        try:
            frame = jm.frame(data)
        except ValueError as exc:
            raise NotRetilable(f"tile {index}: malformed JPEG: {exc}") from exc
        if frame is None or frame.marker != self.level.frame.marker:
            raise NotRetilable(f"tile {index} is coded differently")
        if frame.components != self.level.frame.components:
            raise NotRetilable(f"tile {index} has other components or sampling")
        if (frame.width, frame.height) != (self.level.tile_width, self.level.tile_height):
            raise NotRetilable(f"tile {index}'s frame size differs from the tile size")

    def close(self) -> None:
        os.close(self.fd)


def _component_geometry(frame: jm.Frame) -> list[tuple[int, int]]:
    """Pixels covered by one coefficient block of each component (x, y)."""
    hmax = max(c[1] for c in frame.components)
    vmax = max(c[2] for c in frame.components)
    return [(8 * hmax // c[1], 8 * vmax // c[2]) for c in frame.components]


def _assemble(
    level: JpegLevel, reader: _Reader, x0: int, y0: int, width: int, height: int
) -> list[np.ndarray]:
    """Coefficient blocks of each component covering pixels [x0, x0+width) x [y0, y0+height),
    ``width``/``height`` rounded up to whole MCUs; blocks past the source grid are zeros."""
    import numpy as np

    frame = level.frame
    mw, mh = frame.mcu_width, frame.mcu_height
    width, height = ceil_div(width, mw) * mw, ceil_div(height, mh) * mh
    out = []
    for k, (bw, bh) in enumerate(_component_geometry(frame)):
        nbx, nby = width // bw, height // bh
        blocks = np.zeros((nby, nbx, 8, 8), dtype=np.int16)
        sbx, sby = level.tile_width // bw, level.tile_height // bh  # blocks per source tile
        gx0, gy0 = x0 // bw, y0 // bh  # first global block
        for ty in range(gy0 // sby, min(level.n_ty, ceil_div(gy0 + nby, sby))):
            row = reader.row(ty)
            for tx in range(gx0 // sbx, min(level.n_tx, ceil_div(gx0 + nbx, sbx))):
                src = row[tx][k]
                ax0, ay0 = max(gx0, tx * sbx), max(gy0, ty * sby)
                ax1, ay1 = min(gx0 + nbx, (tx + 1) * sbx), min(gy0 + nby, (ty + 1) * sby)
                blocks[ay0 - gy0 : ay1 - gy0, ax0 - gx0 : ax1 - gx0] = src[
                    ay0 - ty * sby : ay1 - ty * sby, ax0 - tx * sbx : ax1 - tx * sbx
                ]
        out.append(blocks)
    return out


def _encode(level: JpegLevel, codec: Codec, comps: list[np.ndarray], w: int, h: int) -> bytes:
    try:
        data = codec.write(comps, w, h)
    except CodecError as exc:
        raise NotRetilable(f"re-tiled coefficients: {exc}") from exc
    return jm.mark_rgb(data) if level.colorspace == "JCS_RGB" else data


def band(level: JpegLevel, rows: range, workdir: Path | None, qt: Any) -> list[RetiledTile]:
    """The re-tiled tiles of output rows ``rows``, with a codec of its own."""
    codec = Codec(level.frame, level.colorspace, workdir)
    codec.qt = qt
    reader = _Reader(level, codec)
    out = []
    try:
        for ty in rows:
            reader.forget(ty * TILE_SIZE)
            for tx in range(ceil_div(level.width, TILE_SIZE)):
                x0, y0 = tx * TILE_SIZE, ty * TILE_SIZE
                w = min(TILE_SIZE, level.width - x0)
                h = min(TILE_SIZE, level.height - y0)
                full = _assemble(level, reader, x0, y0, TILE_SIZE, TILE_SIZE)
                if (w, h) != (TILE_SIZE, TILE_SIZE):  # as the C codec's path does
                    frame = level.frame
                    mcu = (frame.mcu_width, frame.mcu_height)
                    blank_padding(full, _component_geometry(frame), mcu, w, h)
                padded = _encode(level, codec, full, TILE_SIZE, TILE_SIZE)
                exact = None
                if (w, h) != (TILE_SIZE, TILE_SIZE):
                    part = _assemble(level, reader, x0, y0, w, h)
                    exact = _encode(level, codec, part, w, h)
                tables, data = jm.split_quant(padded)  # the DHT stays in the tile
                out.append(RetiledTile(tx, ty, tables, data, exact))
    finally:
        reader.close()
        codec.close()
    return out
