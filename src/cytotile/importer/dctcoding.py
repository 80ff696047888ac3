"""How a re-tiled level's tiles are entropy-coded: its Huffman tables, chosen once per level.

The tables are optimal for a spread of the level's source tiles (:data:`SAMPLE_FRACTION`),
counted by the C codec's ``gather``. A slide mixes sparse tiles (background, pale tissue) and
dense ones (nuclei, texture), whose symbol statistics differ: when two sets of tables, one
optimal for the sampled tiles smaller than their median, one for the larger, code the sample
at least :data:`MIN_GAIN` smaller than one set, the level gets both, and each tile selects one
in its scan header by the source bytes it covers (no extra pass over its coefficients). Only
where baseline JPEG allows it: two tables of each class, so two sets for a level whose
components share one group (grey; Aperio's RGB-coded R, G, B); a YCbCr level (luminance and
chrominance groups) keeps one set. Two YCbCr sets would need four tables, extended sequential
(SOF1): libjpeg decodes it, but readers that accept baseline and progressive only do not
(large_image's TIFF source refuses such tiles), and tiles must open in every viewer. All the
tables are written once, in the level's ``JPEGTables``: a tile is SOF, SOS and the scan.
"""

from __future__ import annotations

import statistics
import struct
from typing import TYPE_CHECKING

from cytotile.importer import huffman as hf
from cytotile.importer import jpegmarkers as jm
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.retile import JpegLevel

#: source tiles counted for the level's tables: this share of them, evenly spread (at least
#: MIN_SAMPLE, or all). Fewer than 16 move level 0's bytes by up to 1.7%, either way (8 / 4:
#: CMU-1-Small-Region, 130 tiles, +1.69% / -0.06%; synthetic RGB-coded 6000x4500, 475 tiles,
#: +0.68% / +0.68%; 3000x2400, -0.89% / -0.36%; YCbCr 6000x4500 -0.63% / -0.63%)
SAMPLE_FRACTION = 0.02
MIN_SAMPLE = 16
#: two sets of tables only when they code the sample this much smaller than one set
MIN_GAIN = 0.005


def sample(total: int) -> list[int]:
    """Indices of the source tiles counted: :data:`SAMPLE_FRACTION` of ``total`` (at least
    :data:`MIN_SAMPLE`, at most all), evenly spread, the first and the last included."""
    n = min(total, max(MIN_SAMPLE, ceil_div(total * round(SAMPLE_FRACTION * 1000), 1000)))
    return sorted({round(i * (total - 1) / max(1, n - 1)) for i in range(n)})


def groups(frame: jm.Frame) -> tuple[int, ...]:
    """The table group of each component: one per quantization table (components quantized
    alike code alike: Aperio's R, G, B share one, YCbCr's Cb and Cr one); two at most
    (luminance 0, the others 1)."""
    quant = [c[3] for c in frame.components]
    order = list(dict.fromkeys(quant))
    if len(order) <= 2:
        return tuple(order.index(q) for q in quant)
    return tuple(min(k, 1) for k in range(len(quant)))


def _grouped(counts: np.ndarray, group: tuple[int, ...]) -> np.ndarray:
    """(group, class, symbol) counts of ``counts`` (component, class, symbol)."""
    import numpy as np

    width = max(group) + 1
    return np.stack(
        [counts[[k for k, g in enumerate(group) if g == d]].sum(0) for d in range(width)]
    )


def _tables(grouped: np.ndarray) -> list[tuple[hf.Table, hf.Table]]:
    """(DC, AC) tables of each group, optimal for ``grouped`` (group, class, symbol)."""
    return [(hf.optimal(g[0], hf.DC_SYMBOLS), hf.optimal(g[1], hf.AC_SYMBOLS)) for g in grouped]


def _bits(sets: list[list[tuple[hf.Table, hf.Table]]], grouped: np.ndarray) -> list[int]:
    """Huffman-code bits of each ``grouped[k]`` (group, class, symbol) under ``sets[k]`` (the
    magnitude bits do not depend on the tables): its counts times the code lengths."""
    import numpy as np

    sizes = b"".join(t.sizes for tables in sets for pair in tables for t in pair)
    lengths = np.frombuffer(sizes, np.uint8).reshape(len(sets), -1)
    bits: list[int] = (grouped.reshape(len(sets), -1) * lengths).sum(axis=1).tolist()
    return bits


class Tables:
    """The level's Huffman tables: one or two sets, and which tile uses which."""

    def __init__(self, level: JpegLevel, counts: np.ndarray, picks: list[int]) -> None:
        """``counts``: (sampled tile, component, class, symbol), of the tiles ``picks``."""
        import numpy as np

        self.level = level
        self.group = groups(level.frame)
        sizes = [level.byte_counts[k] for k in picks]
        self.threshold = float(statistics.median(sizes))
        dense = np.array([size > self.threshold for size in sizes])
        if max(self.group) == 0:  # one group: baseline's two tables a class hold two sets
            by_tile = counts.sum(axis=1)  # (sampled tile, class, symbol)
            every = by_tile.sum(axis=0)[None]
        else:
            every = _grouped(counts.sum(axis=0), self.group)
        one = _tables(every)
        self.sets = [one]
        if max(self.group) == 0 and dense.any() and not dense.all():
            sparse = by_tile[~dense].sum(axis=0)
            apart = np.stack([every[0], sparse, every[0] - sparse])[:, None]
            two = [_tables(apart[1]), _tables(apart[2])]
            bits = _bits([one, *two], apart)
            if bits[1] + bits[2] < (1 - MIN_GAIN) * bits[0]:
                self.sets = two
        #: (output row, output column): whether the tile takes the dense set (two sets only)
        self._dense = self._dense_tiles() if len(self.sets) > 1 else None
        self._derive()

    @classmethod
    def kept(
        cls, level: JpegLevel, group: tuple[int, ...], tables: list[tuple[hf.Table, hf.Table]]
    ) -> Tables:
        """One set of given tables (the source's own, :mod:`cytotile.importer.dctsource`):
        ``tables[g]`` the (DC, AC) pair of group ``g``, ``group`` each component's."""
        self = cls.__new__(cls)
        self.level, self.group, self.sets, self._dense = level, group, [tables], None
        self._derive()
        return self

    def _derive(self) -> None:
        """What the codec and the tiles' headers take, from :attr:`sets` and :attr:`group`."""
        import numpy as np

        width = max(self.group) + 1
        #: the table ids of each set's components (set s, group g: table s * width + g)
        self.ids = [tuple(s * width + g for g in self.group) for s in range(len(self.sets))]
        self.arrays = [
            tuple((*t[g][0].arrays(), *t[g][1].arrays()) for g in self.group) for t in self.sets
        ]
        self.coded = tuple(self.arrays)  #: as the codec's ``transcode`` and ``assemble`` take them
        #: the codec's ``prepare(coded)`` (set by :class:`~cytotile.importer.dctlevel.Coding`):
        #: parsed once for the level, not at every call
        self.prepared: object = self.coded
        self.dht = hf.dht(
            [
                (cls, s * width + g, t[g][cls])
                for s, t in enumerate(self.sets)
                for g in range(width)
                for cls in (hf.DC, hf.AC)
            ]
        )
        self.marker = self.level.frame.marker  # baseline (SOF0) stays baseline: tables 0 and 1
        #: each output tile's set, row-major, one byte each, as the codec's ``transcode`` takes
        #: it (None: one set)
        self.grid = None if self._dense is None else self._dense.astype(np.uint8).tobytes()

    def _dense_tiles(self) -> np.ndarray:
        """Each output tile's set, for the whole level at once: the dense one when the source
        tiles it covers hold more bytes than the median sampled tile (their mean, weighted by
        the pixels of each it covers)."""
        import numpy as np

        level = self.level
        n_x, n_y = ceil_div(level.width, TILE_SIZE), ceil_div(level.height, TILE_SIZE)
        sizes = np.asarray(level.byte_counts[: level.n_ty * level.n_tx], np.int64)
        rows = _overlaps(level.tile_height, level.n_ty, n_y)
        columns = _overlaps(level.tile_width, level.n_tx, n_x)
        # integer products (pixels times bytes): numpy would hand a float one to OpenBLAS,
        # whose threads then spin beside the re-tiling's for a while
        weighted = rows.T @ sizes.reshape(level.n_ty, level.n_tx) @ columns
        area = np.outer(rows.sum(axis=0), columns.sum(axis=0))
        dense: np.ndarray = weighted > self.threshold * area
        return dense

    def choose(self, ty: int) -> list[int]:
        """The set each tile of output row ``ty`` uses (:meth:`_dense_tiles`)."""
        if self._dense is None:  # one set
            return [0] * ceil_div(self.level.width, TILE_SIZE)
        return [int(v) for v in self._dense[ty]]


def _overlaps(source_tile: int, n_source: int, n_out: int) -> np.ndarray:
    """(source tile, output tile): pixels of overlap along one axis (tiles of ``source_tile``
    and of :data:`~cytotile.pyramid.TILE_SIZE` pixels from 0)."""
    import numpy as np

    src = np.arange(0, (n_source + 1) * source_tile, source_tile)
    out = np.arange(0, (n_out + 1) * TILE_SIZE, TILE_SIZE)
    overlap = np.minimum.outer(src[1:], out[1:]) - np.maximum.outer(src[:-1], out[:-1])
    weights: np.ndarray = np.maximum(overlap, 0).astype(np.int64)
    return weights


def dqt(level: JpegLevel) -> bytes:
    """The DQT segment of the level's quantization tables (8-bit unless a value needs 16)."""
    body = b""
    for tid in sorted({c[3] for c in level.frame.components}):
        values = level.quant[tid]
        wide = max(values) > 255
        body += bytes([wide << 4 | tid]) + struct.pack(f">64{'H' if wide else 'B'}", *values)
    return b"\xff\xdb" + struct.pack(">H", len(body) + 2) + body


def header(level: JpegLevel, marker: int, ids: tuple[int, ...], width: int, height: int) -> bytes:
    """SOF and SOS of a ``width`` x ``height`` tile whose components use tables ``ids``."""
    comps = level.frame.components
    sof = struct.pack(">BHHB", 8, height, width, len(comps))
    sof += b"".join(bytes([c[0], c[1] << 4 | c[2], c[3]]) for c in comps)
    sos = bytes([len(comps)]) + b"".join(
        bytes([c[0], t << 4 | t]) for c, t in zip(comps, ids, strict=True)
    )
    sos += b"\x00\x3f\x00"  # spectral selection 0..63, no successive approximation
    sof = bytes([0xFF, marker]) + struct.pack(">H", len(sof) + 2) + sof
    return sof + b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos
