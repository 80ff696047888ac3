"""The pyramid written as its rows of tiles come: the index in its reserved room, each row of a
tier contiguous, tiers interleaved in an order the sizes fix (the same bytes whatever order the
threads make the rows in), and nothing left when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytotile.errors import ConversionError
from cytotile.tiff import layout as L
from cytotile.tiff import streamed as S
from cytotile.tiff.parse import parse_index
from cytotile.tiff.streamed import StreamedPyramid, row_order
from cytotile.tiff.writer import jpeg_ifd

SIZES = [(600, 300), (300, 150), (150, 75)]  # 3x2 tiles (5 partial), then 2x1, then 1


def tile(level: int, tx: int, ty: int) -> bytes:
    return b"\xff\xd8" + bytes([level, tx, ty]) * (10 + 7 * tx + ty) + b"\xff\xd9"


def exact(level: int, tx: int, ty: int) -> bytes | None:
    w, h = SIZES[level]
    partial = (tx + 1) * 256 > w or (ty + 1) * 256 > h
    return b"EXACT" + bytes([level, tx, ty]) if partial else None


def streamed(path: Path, room: int = 100) -> StreamedPyramid:
    ifds = [
        jpeg_ifd(k, size, 3, 6, bytes(room) if k == 0 else b"T" * 40)
        for k, size in enumerate(SIZES)
    ]
    header = L.PyramidHeader(SIZES[0][0], SIZES[0][1], len(SIZES), n_samples=3)
    return StreamedPyramid(path, SIZES, ifds, header, reserve=16)


def rows(level: int) -> list[list[tuple[int, int]]]:
    w, h = SIZES[level]
    return [[(tx, ty) for tx in range(-(-w // 256))] for ty in range(-(-h // 256))]


def test_tiles_found_through_the_index_rows_contiguous(tmp_path: Path) -> None:
    out = streamed(tmp_path / "p.tif")
    # interleaved as the re-tiling and the lower tiers' thread make them
    order = [(0, r) for r in rows(0)]
    order.insert(1, (1, rows(1)[0]))
    order.insert(0, (2, rows(2)[0]))
    for level, row in order:
        for tx, ty in row:
            out.add(level, tx, ty, tile(level, tx, ty), exact(level, tx, ty))
    index_size = out.finish({0: b"\xff\xd8TABLES\xff\xd9"})
    data = (tmp_path / "p.tif").read_bytes()
    index = parse_index(data[:index_size])
    assert index.index_size == index_size and len(data) > index_size
    for level in range(len(SIZES)):
        tier = index.tier(0, level)
        for row in rows(level):
            for tx, ty in row:
                i = ty * tier.n_tx + tx
                at, n = tier.offsets[i], tier.byte_counts[i]
                assert data[at : at + n] == tile(level, tx, ty)
                if exact(level, tx, ty):
                    at, n = tier.edge_tiles[i]
                    assert data[at : at + n] == exact(level, tx, ty)
            first, last = row[0][1] * tier.n_tx, row[-1][1] * tier.n_tx + row[-1][0]
            assert tier.offsets[last] + tier.byte_counts[last] - tier.offsets[first] == sum(
                tier.byte_counts[first : last + 1]
            )  # one ranged read
    assert index.tier(0, 0).jpeg_tables == b"\xff\xd8TABLES\xff\xd9"  # in the placeholder's room
    assert index.tier(0, 1).jpeg_tables == b"T" * 40
    offsets = [o for level in range(3) for o in index.tier(0, level).offsets]
    assert min(offsets) == index_size  # the tiles start right after the index


def test_a_tile_out_of_order_is_refused(tmp_path: Path) -> None:
    out = streamed(tmp_path / "p.tif")
    out.add(0, 0, 0, tile(0, 0, 0), None)
    with pytest.raises(ConversionError, match="out of order"):
        out.add(0, 2, 0, tile(0, 2, 0), None)
    with pytest.raises(ConversionError, match="out of order"):
        out.add(1, 0, 1, tile(1, 0, 1), None)
    out.abort()


def test_missing_tiles_or_tables_too_large_fail_and_abort_removes(tmp_path: Path) -> None:
    path = tmp_path / "p.tif"
    out = streamed(path)
    for level in range(3):
        for row in rows(level):
            for tx, ty in row:
                if (level, tx, ty) != (1, 1, 0):
                    out.add(level, tx, ty, tile(level, tx, ty), exact(level, tx, ty))
    with pytest.raises(ConversionError, match="tier 1"):
        out.finish({0: b"T"})
    out.abort()
    assert not path.exists()
    out = streamed(path, room=10)
    for level in range(3):
        for row in rows(level):
            for tx, ty in row:
                out.add(level, tx, ty, tile(level, tx, ty), exact(level, tx, ty))
    with pytest.raises(ConversionError, match="larger than their room"):
        out.finish({0: b"T" * 11})
    out.abort()
    assert not path.exists()


def test_the_final_header_fills_the_reserved_room(tmp_path: Path) -> None:
    out = streamed(tmp_path / "p.tif")  # reserve=16
    for level in range(3):
        for row in rows(level):
            for tx, ty in row:
                out.add(level, tx, ty, tile(level, tx, ty), exact(level, tx, ty))
    final = L.PyramidHeader(SIZES[0][0], SIZES[0][1], len(SIZES), n_samples=3)
    too_long = L.PyramidHeader(SIZES[0][0], SIZES[0][1], len(SIZES), n_samples=3)
    too_long.extra["stats"] = [[0, 255]] * 3
    with pytest.raises(ConversionError, match="outgrew"):
        out.finish({0: b"T"}, too_long)
    final.extra["k"] = 1  # 8 bytes more than the first
    out.finish({0: b"T"}, final)
    index = parse_index((tmp_path / "p.tif").read_bytes())
    assert index.header.extra == {"k": 1}


def test_rows_go_by_the_level_0_rows_they_cover_then_by_tier() -> None:
    assert row_order(SIZES) == [(0, 0), (0, 1), (1, 0), (2, 0)]
    sizes = [(2220, 2967), (1110, 1484), (555, 742), (278, 371), (139, 186)]  # CMU-1's
    order = row_order(sizes)
    assert order[:4] == [(0, 0), (0, 1), (1, 0), (0, 2)]  # tier 1's row 0 covers 512 rows
    assert order[-5:] == [(0, 11), (1, 5), (2, 2), (3, 1), (4, 0)]  # the last rows, by tier
    assert sorted(order) == [
        (level, ty) for level, (_, h) in enumerate(sizes) for ty in range(-(-h // 256))
    ]


def _written(path: Path, order: list[tuple[int, list[tuple[int, int]]]]) -> bytes:
    out = streamed(path)
    for level, row in order:
        for tx, ty in row:
            out.add(level, tx, ty, tile(level, tx, ty), exact(level, tx, ty))
    out.finish({0: b"\xff\xd8TABLES\xff\xd9"})
    return path.read_bytes()


def test_the_same_bytes_whatever_order_the_rows_come_in(tmp_path: Path) -> None:
    made = [(0, rows(0)[0]), (0, rows(0)[1]), (1, rows(1)[0]), (2, rows(2)[0])]
    first = _written(tmp_path / "a.tif", made)
    assert _written(tmp_path / "b.tif", [made[3], made[2], made[0], made[1]]) == first
    assert _written(tmp_path / "c.tif", [made[2], made[0], made[3], made[1]]) == first


def test_rows_held_back_past_the_budget_go_out_of_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(S, "WAITING_BYTES", 100)  # tier 2's row and tier 1's are more
    made = [(2, rows(2)[0]), (1, rows(1)[0]), (0, rows(0)[0]), (0, rows(0)[1])]
    data = _written(tmp_path / "p.tif", made)
    index = parse_index(data)
    tiers = [index.tier(0, level) for level in range(len(SIZES))]
    # before level 0's rows (whose turn comes first), in their own order
    assert tiers[1].offsets[0] < tiers[2].offsets[0] < tiers[0].offsets[0]
    for level, row in made:
        for tx, ty in row:
            i = ty * tiers[level].n_tx + tx
            at, n = tiers[level].offsets[i], tiers[level].byte_counts[i]
            assert data[at : at + n] == tile(level, tx, ty)


def test_pieces_gathered_in_chunks_and_short_writes_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row's tiles go out in one gathered write (a chunk of WRITE_PIECES at most); a write
    the kernel cuts short is completed, a disk that takes nothing more fails."""
    import os

    pieces = [bytes([k]) * (k + 1) for k in range(7)]
    path = tmp_path / "p.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    real = os.pwritev
    calls = []

    def short(fd: int, part: list[bytes], start: int) -> int:
        calls.append(len(part))
        return real(fd, part[:1], start)  # only the first piece each time

    monkeypatch.setattr(S, "WRITE_PIECES", 3)
    monkeypatch.setattr(S.os, "pwritev", short)
    try:
        S._write_all(fd, pieces, 5)
        assert calls == [3, 3, 1]
        assert path.read_bytes() == bytes(5) + b"".join(pieces)
        monkeypatch.setattr(S.os, "pwrite", lambda *_: 0)  # full
        with pytest.raises(ConversionError, match="short write"):
            S._write_all(fd, pieces, 0)
    finally:
        os.close(fd)
