"""A JPEG pyramid written as its tiles are made: no spool, no copy of the tiles at the end.

The index's room is reserved at the start of the file: its size is known before any tile (each
tier's tile and edge-tile counts; its ``JPEGTables`` at their final size, or at most a given
size). Each row of a tier's tiles is appended whole once it is complete, so that a row stays
contiguous (one ranged read for a window's row), its exact-size edge JPEGs after it. The rows of
the tiers interleave in an order the sizes fix (:func:`row_order`: by the level-0 rows each one
covers), not in the order the threads happen to make them: a row made early waits for the ones
before it (:data:`WAITING_BYTES` at most), and two conversions of one slide write the same bytes
(the same object ETag). The
index is written last, into its room (zeros after it, if the tables came out shorter than their
room).

A failure leaves nothing: :meth:`StreamedPyramid.abort` removes the file.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cytotile.errors import ConversionError
from cytotile.pyramid import TILE_SIZE, ceil_div
from cytotile.tiff import layout as L
from cytotile.tiff.writer import _Ifd, _serialize, _set, index_room


def row_order(sizes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every (tier, row of tiles) of a pyramid of ``sizes`` (level 0 first, each tier half the
    one above it), in the order they are written: by the last level-0 pixel row each covers
    (about the order they can be made: a tier's row needs the level-0 rows it covers), then
    by tier."""
    height = sizes[0][1]
    rows = [
        (min(height, TILE_SIZE * (ty + 1) << level), level, ty)
        for level, (_, h) in enumerate(sizes)
        for ty in range(ceil_div(h, TILE_SIZE))
    ]
    return [(level, ty) for _, level, ty in sorted(rows)]


#: bytes of rows the order holds back at most: past them (a tier's thread far ahead of another,
#: which the re-tiling's level 1 hand-over does not allow: only the jpeglib path's separate
#: decoding would), the rows waiting are written out of turn
WAITING_BYTES = 64 * 1024 * 1024


#: pieces written by one call at most (the system's IOV_MAX is 1024)
WRITE_PIECES = 512


def _write_all(fd: int, pieces: list[bytes], start: int) -> None:
    """``pieces`` one after the other at ``start`` (gathered by the kernel: not joined first)."""
    for k in range(0, len(pieces), WRITE_PIECES):
        part = pieces[k : k + WRITE_PIECES]
        size = sum(len(piece) for piece in part)
        written = os.pwritev(fd, part, start)
        if written != size:  # a short write: the rest at once, or the disk is full
            rest = b"".join(part)[written:]
            if written < 0 or os.pwrite(fd, rest, start + written) != len(rest):
                raise ConversionError(f"short write of the pyramid at {start}")
        start += size


class StreamedPyramid:
    """The pyramid of ``ifds`` (one a tier, level 0 first, as :func:`jpeg_ifd` makes them) of
    ``sizes``, its tiles handed to :meth:`add` row by row, then :meth:`finish`."""

    def __init__(
        self,
        out_path: Path,
        sizes: list[tuple[int, int]],
        ifds: list[_Ifd],
        header: L.PyramidHeader,
        reserve: int = 0,
    ) -> None:
        """``reserve`` spaces after the header's JSON leave room for the final header
        (:meth:`finish`); a tier whose tables are not known yet
        has a placeholder ``JPEGTables`` of their largest size (:meth:`finish` gets them)."""
        self.path, self.sizes, self.ifds = out_path, sizes, ifds
        self.n_tx = [ceil_div(w, TILE_SIZE) for w, _ in sizes]
        self.n_tiles = [ceil_div(w, TILE_SIZE) * ceil_div(h, TILE_SIZE) for w, h in sizes]
        self.n_edges = [len(L.edge_tile_indexes(w, h, TILE_SIZE)) for w, h in sizes]
        counts = list(zip(self.n_tiles, self.n_edges, strict=True))
        self.index_size = index_room(ifds, header, counts, reserve)
        self._lock = threading.Lock()
        self._end = self.index_size  # where the next row goes
        self._row: list[list[tuple[bytes, bytes | None]]] = [[] for _ in sizes]
        self._rows = [0] * len(sizes)  # rows complete, each tier
        self._order = row_order(sizes)
        self._written = 0  # rows of the order written
        #: complete rows whose turn has not come, by (tier, row), and their bytes
        self._waiting: dict[tuple[int, int], list[tuple[bytes, bytes | None]]] = {}
        self._waiting_bytes = 0
        self._placed: set[tuple[int, int]] = set()  # rows written before their turn
        self._tiles: list[list[tuple[int, int]]] = [[] for _ in sizes]  # (offset, count)
        self._edges: list[list[tuple[int, int]]] = [[] for _ in sizes]
        self._fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def add(self, level: int, tile_tx: int, tile_ty: int, data: bytes, exact: bytes | None) -> None:
        """Tile (``tile_tx``, ``tile_ty``) of tier ``level`` (row-major within a tier, any
        order across tiers), and its exact-size JPEG for a partial edge tile; thread-safe. Its
        row is written once complete and its turn has come (:func:`row_order`)."""
        with self._lock:
            row = self._row[level]
            if (tile_tx, tile_ty) != (len(row), self._rows[level]):
                raise ConversionError(f"tier {level}: tile {tile_tx},{tile_ty} out of order")
            row.append((data, exact))
            if len(row) < self.n_tx[level]:
                return
            self._waiting[level, self._rows[level]] = row
            self._waiting_bytes += sum(len(d) + len(e or b"") for d, e in row)
            self._row[level], self._rows[level] = [], self._rows[level] + 1
            writes = []  # (offset, pieces) of each row whose turn has come
            order = self._order
            while self._written < len(order) and (
                order[self._written] in self._waiting or order[self._written] in self._placed
            ):
                turn = order[self._written]
                if turn in self._waiting:
                    writes.append(self._place(turn, self._waiting.pop(turn)))
                self._written += 1
            if self._waiting_bytes > WAITING_BYTES:  # one side far behind: out of turn
                for turn in sorted(self._waiting, key=order.index):
                    writes.append(self._place(turn, self._waiting.pop(turn)))
                    self._placed.add(turn)
        for start, pieces in writes:
            _write_all(self._fd, pieces, start)

    def _place(
        self, turn: tuple[int, int], row: list[tuple[bytes, bytes | None]]
    ) -> tuple[int, list[bytes]]:
        """Where row ``turn`` (tier, row) goes (next in the file), its tiles' offsets noted;
        with the lock held."""
        level = turn[0]
        self._waiting_bytes -= sum(len(d) + len(e or b"") for d, e in row)
        at = start = self._end
        for piece in [d for d, _ in row]:
            self._tiles[level].append((at, len(piece)))
            at += len(piece)
        for piece in [e for _, e in row if e is not None]:
            self._edges[level].append((at, len(piece)))
            at += len(piece)
        self._end = at
        return start, [d for d, _ in row] + [e for _, e in row if e is not None]

    def finish(self, tables: dict[int, bytes], header: L.PyramidHeader | None = None) -> int:
        """The index written (each tier ``k``'s JPEGTables replaced by ``tables[k]``, when
        given: no larger than its placeholder; the header by ``header``, within the first one's
        JSON and reserved spaces); returns the index's size."""
        if header is not None:
            entry = next(e for e in self.ifds[0].entries if e.code == L.IMAGE_DESCRIPTION)
            text = header.to_json().encode()
            if len(text) + 1 > len(entry.data):
                raise ConversionError("the pyramid header outgrew its reserved room")
            entry.data = text + b" " * (len(entry.data) - len(text) - 1) + b"\0"
        for k, ifd in enumerate(self.ifds):
            if (len(self._tiles[k]), len(self._edges[k])) != (self.n_tiles[k], self.n_edges[k]):
                raise ConversionError(f"tier {k}: {len(self._tiles[k])} tiles written")
            if k in tables:
                entry = next(e for e in ifd.entries if e.code == L.JPEG_TABLES)
                if len(tables[k]) > len(entry.data):
                    raise ConversionError(f"tier {k}: JPEG tables larger than their room")
                entry.data, entry.count = tables[k], len(tables[k])
            _set(ifd, L.TILE_OFFSETS, [at for at, _ in self._tiles[k]])
            _set(ifd, L.TILE_BYTE_COUNTS, [n for _, n in self._tiles[k]])
            if self.n_edges[k]:
                _set(ifd, L.EDGE_OFFSETS, [at for at, _ in self._edges[k]])
                _set(ifd, L.EDGE_BYTE_COUNTS, [n for _, n in self._edges[k]])
        index = _serialize(self.ifds, self.index_size)
        os.pwrite(self._fd, index, 0)
        os.close(self._fd)
        self._fd = -1
        return self.index_size

    def abort(self) -> None:
        """Nothing left behind: the file closed and removed."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.path.unlink(missing_ok=True)
