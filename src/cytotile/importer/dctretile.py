"""Level 0 re-tiled through the C coefficient codec (``_jpegdct``): tables per level, not per tile.

Each thread takes a band of output rows. The source tiles an output row spans are entropy-decoded
straight into per-component coefficient planes of the whole width (numpy ``int16``, blocks in
natural order; zeros beyond the source's grid), a few source rows deep: when the next output
row starts below a source row, the rows still needed move to the top (one source row at most)
and the next ones are decoded below them. Each 256x256 output tile is entropy-coded from a
strided view of the planes: no block is copied in Python.

The level has one set of Huffman tables (luminance; chrominance, Cb and Cr together), optimal
for a spread of its source tiles (:data:`SAMPLE_FRACTION`) counted by the codec's ``gather``,
written once in the level's ``JPEGTables`` beside its quantization tables. A tile is SOF, SOS and
the scan (after an Adobe marker when the components are R, G, B); an exact-size edge tile is a
complete stream, tables included.
"""

from __future__ import annotations

import os
import struct
from types import ModuleType
from typing import TYPE_CHECKING

from cytotile.importer import huffman as hf
from cytotile.importer import jpegmarkers as jm
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.retile import JpegLevel, RetiledTile

#: source tiles counted for the level's Huffman tables: this share of them, evenly spread (at
#: least MIN_SAMPLE, or all)
SAMPLE_FRACTION = 0.02
MIN_SAMPLE = 16


def codec() -> ModuleType | None:
    """The C codec, or None when the extension is not built (the jpeglib path then)."""
    try:
        from cytotile.importer import _jpegdct
    except ImportError:
        return None
    return _jpegdct


def huffman_ids(frame: jm.Frame) -> tuple[int, ...]:
    """The Huffman tables of each component: one per quantization table (components quantized
    alike code alike: Aperio's R, G, B share one, YCbCr's Cb and Cr one), but baseline has two
    at most: else luminance 0, the others 1."""
    quant = [c[3] for c in frame.components]
    order = list(dict.fromkeys(quant))
    if len(order) <= 2:
        return tuple(order.index(q) for q in quant)
    return tuple(min(k, 1) for k in range(len(quant)))


def sample(total: int) -> list[int]:
    """Indices of the source tiles counted: :data:`SAMPLE_FRACTION` of ``total`` (at least
    :data:`MIN_SAMPLE`, at most all), evenly spread, the first and the last included."""
    n = min(total, max(MIN_SAMPLE, ceil_div(total * round(SAMPLE_FRACTION * 1000), 1000)))
    return sorted({round(i * (total - 1) / max(1, n - 1)) for i in range(n)})


class Coding:
    """How the level's tiles are written: its frame, quantization and Huffman tables."""

    def __init__(self, level: JpegLevel, lib: ModuleType) -> None:
        import numpy as np

        from cytotile.importer.retile import NotRetilable

        self.level, self.lib = level, lib
        frame = level.frame
        self.sampling = tuple((c[1], c[2]) for c in frame.components)
        self.mcu = (frame.mcu_width, frame.mcu_height)
        #: pixels each block of a component covers (x, y)
        self.block = [(frame.mcu_width // h, frame.mcu_height // v) for h, v in self.sampling]
        self.fd = os.open(level.path, os.O_RDONLY)
        n = len(frame.components)
        self.quant: bytes | None = None  # the level's (as decode returns them), from tile 0
        counts = np.zeros((n, 2, 256), np.int64)
        mcus = (level.tile_width // self.mcu[0], level.tile_height // self.mcu[1])
        planes = self.planes(level.tile_width, level.tile_height)
        for index in sample(len(level.offsets)):  # tile 0 first: the level's tables
            self.decode(index, planes)
            try:
                lib.gather(planes, self.sampling, mcus, counts)
            except ValueError as exc:
                raise NotRetilable(f"tile {index}: {exc}") from exc
        self.ids = huffman_ids(frame)
        tables = {}
        for th in sorted(set(self.ids)):
            mine = counts[[k for k in range(n) if self.ids[k] == th]].sum(axis=0)
            tables[th] = (hf.optimal(mine[0], hf.DC_SYMBOLS), hf.optimal(mine[1], hf.AC_SYMBOLS))
        self.arrays = tuple((*tables[th][0].arrays(), *tables[th][1].arrays()) for th in self.ids)
        dht = hf.dht([(c, th, tables[th][c]) for th in tables for c in (hf.DC, hf.AC)])
        self.tables = b"\xff\xd8" + self._dqt() + dht + b"\xff\xd9"
        self.prefix = jm.ADOBE_RGB if level.colorspace == "JCS_RGB" else b""

    def _dqt(self) -> bytes:
        body = b""
        for tid in sorted({c[3] for c in self.level.frame.components}):
            values = self.level.quant[tid]
            wide = max(values) > 255
            body += bytes([wide << 4 | tid]) + struct.pack(f">64{'H' if wide else 'B'}", *values)
        return b"\xff\xdb" + struct.pack(">H", len(body) + 2) + body

    def planes(self, width: int, height: int) -> tuple[np.ndarray, ...]:
        """Zeroed coefficient planes covering ``width`` x ``height`` pixels (MCU multiples)."""
        import numpy as np

        return tuple(np.zeros((height // bh, width // bw, 64), np.int16) for bw, bh in self.block)

    def decode(self, index: int, planes: tuple[np.ndarray, ...]) -> None:
        """Source tile ``index``'s coefficients into ``planes`` (views of its size or more)."""
        from cytotile.importer.retile import NotRetilable

        level = self.level
        data = os.pread(self.fd, level.byte_counts[index], level.offsets[index])
        try:
            quant = self.lib.decode(level.complete(data), planes)
        except ValueError as exc:
            raise NotRetilable(f"tile {index}: {exc}") from exc
        if self.quant is None:
            self.quant = quant
        elif quant != self.quant:
            raise NotRetilable(f"tile {index} has other quantization tables")

    def header(self, width: int, height: int) -> bytes:
        """SOF and SOS of a ``width`` x ``height`` tile."""
        comps = self.level.frame.components
        sof = struct.pack(">BHHB", 8, height, width, len(comps))
        sof += b"".join(bytes([c[0], c[1] << 4 | c[2], c[3]]) for c in comps)
        sos = bytes([len(comps)]) + b"".join(
            bytes([c[0], th << 4 | th]) for c, th in zip(comps, self.ids, strict=True)
        )
        sos += b"\x00\x3f\x00"
        sof = bytes([0xFF, self.level.frame.marker]) + struct.pack(">H", len(sof) + 2) + sof
        return sof + b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos

    def close(self) -> None:
        os.close(self.fd)


def _decode_row(coding: Coding, planes: tuple[np.ndarray, ...], sy: int, plane_y: int) -> None:
    """Source row ``sy``'s tiles into the planes, from pixel row ``plane_y`` of the planes."""
    level = coding.level
    for sx in range(level.n_tx):
        coding.decode(
            sy * level.n_tx + sx,
            tuple(
                p[plane_y // bh : (plane_y + level.tile_height) // bh,
                  sx * level.tile_width // bw : (sx + 1) * level.tile_width // bw]
                for p, (bw, bh) in zip(planes, coding.block, strict=True)
            ),
        )  # fmt: skip


def band(coding: Coding, rows: range) -> list[RetiledTile]:
    """The tiles of output rows ``rows``, decoding the source rows they span once each."""
    from cytotile.importer.retile import NotRetilable, RetiledTile

    level, lib = coding.level, coding.lib
    tile_h = level.tile_height
    n_x = ceil_div(level.width, TILE_SIZE)
    depth = ceil_div(TILE_SIZE, tile_h) + 1  # source rows an output row can span
    planes = coding.planes(max(n_x * TILE_SIZE, level.n_tx * level.tile_width), depth * tile_h)
    full_mcus = (TILE_SIZE // coding.mcu[0], TILE_SIZE // coding.mcu[1])
    full_header = coding.header(TILE_SIZE, TILE_SIZE)
    out = []
    l0_top, todo = -1, -1  # the level's pixel row of the planes' first row; next source row
    for ty in rows:
        l0_y = ty * TILE_SIZE
        last = min(level.n_ty, ceil_div(l0_y + TILE_SIZE, tile_h))  # source rows < last needed
        if todo < 0:
            todo = l0_y // tile_h
            l0_top = todo * tile_h
        else:  # the rows decoded below l0_y move to the top (less than a source row)
            kept = todo * tile_h - l0_y
            for p, (_, bh) in zip(planes, coding.block, strict=True):
                p[: kept // bh] = p[(l0_y - l0_top) // bh : (l0_y - l0_top + kept) // bh]
            l0_top = l0_y
        if last == level.n_ty:  # past the source's grid: zeros
            for p, (_, bh) in zip(planes, coding.block, strict=True):
                p[(last * tile_h - l0_top) // bh :] = 0
        for sy in range(todo, last):
            _decode_row(coding, planes, sy, sy * tile_h - l0_top)
        todo = last
        height = min(TILE_SIZE, level.height - l0_y)
        for tx in range(n_x):
            views = tuple(
                p[(l0_y - l0_top) // bh :, tx * TILE_SIZE // bw :]
                for p, (bw, bh) in zip(planes, coding.block, strict=True)
            )
            width = min(TILE_SIZE, level.width - tx * TILE_SIZE)
            try:
                scan = lib.encode(views, coding.sampling, full_mcus, coding.arrays)
                exact = None
                if (width, height) != (TILE_SIZE, TILE_SIZE):
                    mcus = (ceil_div(width, coding.mcu[0]), ceil_div(height, coding.mcu[1]))
                    part = lib.encode(views, coding.sampling, mcus, coding.arrays)
                    exact = (
                        b"\xff\xd8" + coding.prefix + coding.tables[2:-2]
                        + coding.header(width, height) + part + b"\xff\xd9"
                    )  # fmt: skip
            except ValueError as exc:
                raise NotRetilable(f"re-tiled coefficients: {exc}") from exc
            data = b"\xff\xd8" + coding.prefix + full_header + scan + b"\xff\xd9"
            out.append(RetiledTile(tx, ty, coding.tables, data, exact))
    return out
