"""The lower tiers' tiles as JPEG: libjpeg (simplejpeg), YCbCr 4:2:0 or grey, one set of tables
a tier; an edge tile padded to 256x256 (:func:`pad_tile`) and, beside it, at its exact size.

A :class:`Batch` holds the rows of tiles of any tiers that are complete, and encodes them
together, shared by a crew: at a slide's end every tier completes its last row at once, and
those rows (a few tiles each, down to the one-tile tiers) are then coded side by side, not
one tier after the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cytotile.importer import jpegmarkers as jm
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.crew import Crew

#: (level, tile_tx, tile_ty, padded 256x256 abbreviated stream, exact-size complete stream|None)
TileSink = Callable[[int, int, int, bytes, bytes | None], None]


def encode_tile(pixels: np.ndarray, quality: int) -> bytes:
    import simplejpeg

    grey = pixels.shape[2] == 1
    return bytes(
        simplejpeg.encode_jpeg(
            pixels,
            quality=quality,
            colorspace="GRAY" if grey else "RGB",
            colorsubsampling="Gray" if grey else "420",
        )
    )


def tier_tables(n_samples: int, quality: int) -> bytes:
    """The JPEGTables every tile :func:`encode_tile` makes shares (its tables depend on the
    quality and the bands only: libjpeg's standard Huffman tables, not optimized ones)."""
    import numpy as np

    blank = np.zeros((8, 8, n_samples), np.uint8)
    return jm.split_tables(encode_tile(blank, quality))[0]


#: pixels an edge tile's last pixels are repeated beyond the image (an MCU of 4:2:0)
REPEAT = 16


def pad_tile(tile: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """An edge tile (its image part) padded to 256x256: its last pixels repeated up to the end
    of the next MCU beyond the one the edge cuts (so that every block with pixels inside, and a
    decoder's chroma upsampling near the edge, is as with the edge repeated throughout), then
    one flat colour, the tile's mean: repeated edges are streaks, which cost bits. Into ``out``
    (256x256, the tile's bands) when given."""
    import numpy as np

    h, w = tile.shape[:2]
    keep_h = min(TILE_SIZE, (ceil_div(h, REPEAT) + 1) * REPEAT)
    keep_w = min(TILE_SIZE, (ceil_div(w, REPEAT) + 1) * REPEAT)
    # summed by columns in uint32 first (exact: 256 rows of 255): 17x sooner than mean() of
    # the strided view, which copies it to float64
    total = tile.sum(axis=0, dtype=np.uint32).sum(axis=0, dtype=np.uint64)
    if out is None:
        out = np.empty((TILE_SIZE, TILE_SIZE, tile.shape[2]), np.uint8)
    out[0] = np.rint(total / (h * w)).astype(np.uint8)
    out[1:] = out[0]  # a row broadcast: 40x sooner than a pixel broadcast over the tile
    out[:h, :w] = tile
    out[:h, w:keep_w] = tile[:, w - 1 : w]  # the last column, then the last row, repeated
    out[h:keep_h, :keep_w] = out[h - 1 : h, :keep_w]
    return out


_pads = threading.local()  # each encoding thread's padded tile, reused (192 KB: over malloc's
# mmap threshold, a new one each edge tile was mapped, faulted in and unmapped again)


def _pad_buffer(bands: int) -> np.ndarray:
    import numpy as np

    pad: np.ndarray | None = getattr(_pads, "tile", None)
    if pad is None or pad.shape[2] != bands:
        pad = _pads.tile = np.empty((TILE_SIZE, TILE_SIZE, bands), np.uint8)
    return pad


def code_tile(rows: np.ndarray, tile_tx: int, quality: int) -> tuple[bytes, bytes | None]:
    """Tile ``tile_tx`` of a row of tiles' pixels ``rows`` (C-contiguous pixels): its 256x256
    stream, and for an edge tile its exact-size one (at quality 90 at least, as
    ``docs/quality.md`` says)."""
    h, width = rows.shape[:2]
    x0 = tile_tx * TILE_SIZE
    w = min(TILE_SIZE, width - x0)
    tile = rows[:, x0 : x0 + w]  # no copy
    exact = None
    if (w, h) != (TILE_SIZE, TILE_SIZE):
        exact = encode_tile(tile, max(quality, 90))
        tile = pad_tile(tile, _pad_buffer(tile.shape[2]))
    return encode_tile(tile, quality), exact


@dataclass
class _Row:
    """A tier's row of tiles, complete, waiting to be encoded."""

    level: int
    tile_ty: int
    rows: np.ndarray
    quality: int
    done: Callable[[int, list[tuple[bytes, bytes | None]]], None]  # (tile_ty, coded tiles)
    coded: list[tuple[bytes, bytes | None]] = field(default_factory=list)


class Batch:
    """Rows of tiles of any tiers (one of each at most), encoded together by :meth:`flush`,
    shared by the ``crew``, then handed on in the order they came."""

    def __init__(self, crew: Crew | None = None) -> None:
        self.crew = crew
        self._rows: list[_Row] = []

    def holds(self, level: int, tile_ty: int) -> bool:
        """Whether row ``tile_ty`` of tier ``level`` waits (its pixels are not free yet)."""
        return any((row.level, row.tile_ty) == (level, tile_ty) for row in self._rows)

    def add(self, level: int, tile_ty: int, rows: np.ndarray, quality: int, done: Any) -> None:
        """Row ``tile_ty`` of tier ``level``: its pixels ``rows`` (kept until :meth:`flush`),
        coded at ``quality``; ``done(tile_ty, coded)`` gets its tiles' streams."""
        import numpy as np

        if rows.strides[1:] != (rows.shape[2], 1):  # simplejpeg takes any row stride, no other
            rows = np.ascontiguousarray(rows)
        n = ceil_div(rows.shape[1], TILE_SIZE)
        self._rows.append(_Row(level, tile_ty, rows, quality, done, [(b"", None)] * n))

    def flush(self) -> None:
        """Every waiting row encoded (its tiles shared by the crew), then handed on."""
        rows, self._rows = self._rows, []
        jobs = [(row, tile_tx) for row in rows for tile_tx in range(len(row.coded))]

        def encode(part: range) -> None:
            for k in part:
                row, tile_tx = jobs[k]
                row.coded[tile_tx] = code_tile(row.rows, tile_tx, row.quality)

        if self.crew is None:
            encode(range(len(jobs)))
        else:
            self.crew.run(encode, len(jobs))
        for row in rows:
            row.done(row.tile_ty, row.coded)
