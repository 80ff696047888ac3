"""The source's own Huffman tables kept for a re-tiled level, only when they serve every tile."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cytotile.importer import dctsource
from cytotile.importer import huffman as hf
from cytotile.importer import jpegmarkers as jm
from cytotile.importer.jpeglevel import JpegLevel
from cytotile.importer.retile import probe, retile
from tests.helpers.jpegtiff import libjpeg, texture, write_jpeg_tiff


def _level(stream: bytes, shared: bool = True, header: bool = False) -> tuple[JpegLevel, bytes]:
    """A level of one 16x16 tile coded as ``stream``, and that tile's stored bytes: abbreviated
    with the tables in JPEGTables (``shared``), complete, or NDPI's (a header up to SOS)."""
    frame = jm.frame(stream)
    assert frame is not None
    tables, data = jm.split_tables(stream) if shared else (None, stream)
    head = None
    if header:
        sos_end = jm.segments(stream)[-1][2]
        head, data, tables = stream[:sos_end], stream[sos_end:-2], None
    level = JpegLevel(
        Path("x"), 16, 16, 16, 16, (0,), (len(data),), tables, 6, frame, {}, header=head
    )
    return level, data


def _tile(subsample: bool = True) -> bytes:
    return libjpeg(80, subsample=subsample)(texture(16, 16), 0)


def _with_tables(stream: bytes, dc0: hf.Table | None = None, ac0: hf.Table | None = None) -> bytes:
    """``stream`` with its luminance DC or AC table replaced (the codes do not matter here)."""
    specs, _ = dctsource._scan_tables(stream)
    if dc0 is not None:
        specs[(hf.DC, 0)] = dc0
    if ac0 is not None:
        specs[(hf.AC, 0)] = ac0
    dht = hf.dht([(cls, tid, t) for (cls, tid), t in sorted(specs.items())])
    kept = b"".join(
        stream[start:end] for marker, start, end in jm.segments(stream)[1:] if marker != jm.DHT
    )
    return b"\xff\xd8" + dht + kept + stream[jm.segments(stream)[-1][2] :]


@pytest.mark.parametrize("header", [False, True], ids=["jpegtables", "ndpi-header"])
def test_shared_tables_are_kept(header: bool) -> None:
    stream = _tile()
    level, first = _level(stream, header=header)
    kept = dctsource.kept_tables(level, first)
    assert kept is not None
    specs, selectors = dctsource._scan_tables(stream)
    assert selectors == [(0, 0), (1, 1), (1, 1)]
    assert kept.ids == [(0, 1, 1)] and kept.grid is None and kept.choose(0) == [0]
    assert kept.sets == [[(specs[(0, 0)], specs[(1, 0)]), (specs[(0, 1)], specs[(1, 1)])]]


def test_tables_a_tile_carries_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _tile()
    assert dctsource.kept_tables(*_level(stream, shared=False)) is None  # complete streams
    level, _ = _level(stream)
    assert dctsource.kept_tables(level, stream) is None  # JPEGTables, and the tile's own DHT
    monkeypatch.setattr(dctsource, "KEEP_SOURCE_TABLES", False)
    assert dctsource.kept_tables(*_level(stream)) is None


def test_a_large_level_is_counted() -> None:
    """Past KEEP_MAX_TILES tiles (800: where the sample is 2% of the level), the bytes optimal
    tables save are worth their count."""
    assert dctsource.KEEP_MAX_TILES == 800
    level, first = _level(_tile())
    for n, kept in ((800, True), (801, False)):
        many = dataclasses.replace(level, offsets=(0,) * n, byte_counts=(len(first),) * n)
        assert (dctsource.kept_tables(many, first) is not None) == kept


def test_tables_lacking_a_code_a_tile_may_need_are_counted() -> None:
    """A DC table without every magnitude category (a re-tiled row of MCUs starts from a DC
    prediction of 0), or an AC table without EOB (a blank block's), is not kept."""
    counts = [1] * 256
    few_dc = hf.optimal(counts, range(11))  # categories 0..10: no 11
    no_eob = hf.optimal(counts, [s for s in hf.AC_SYMBOLS if s != 0x00])
    stream = _tile()
    assert dctsource.kept_tables(*_level(_with_tables(stream))) is not None  # rebuilt alike
    assert dctsource.kept_tables(*_level(_with_tables(stream, dc0=few_dc))) is None
    assert dctsource.kept_tables(*_level(_with_tables(stream, ac0=no_eob))) is None


def test_other_table_ids_are_counted() -> None:
    """A component coding DC and AC with tables of different ids, or three ids in use."""
    stream = _tile()
    sos = jm.segments(stream)[-1][1]

    def selecting(*pairs: int) -> bytes:
        patched = bytearray(stream)
        for k, pair in enumerate(pairs):
            patched[sos + 6 + 2 * k] = pair
        return bytes(patched)

    specs, _ = dctsource._scan_tables(stream)
    assert dctsource.kept_tables(*_level(selecting(0x00, 0x11, 0x11))) is not None
    assert dctsource.kept_tables(*_level(selecting(0x01, 0x11, 0x11))) is None
    three = _with_tables(selecting(0x00, 0x11, 0x11))
    dht = hf.dht([(hf.DC, 2, specs[(0, 1)]), (hf.AC, 2, specs[(1, 1)])])
    three = three[:2] + dht + three[2:]
    sos = jm.segments(three)[-1][1]
    three = three[: sos + 10] + b"\x22" + three[sos + 11 :]
    assert dctsource._scan_tables(three)[1] == [(0, 0), (1, 1), (2, 2)]
    assert dctsource.kept_tables(*_level(three)) is None


def test_malformed_tables_are_left_to_the_count() -> None:
    stream = _tile()
    level, first = _level(stream)
    assert dctsource.kept_tables(level, first[:3]) is None


def test_retiled_level_codes_with_the_source_tables(tmp_path: Path) -> None:
    """The re-tiled level's JPEGTables hold the source's Huffman tables, and its tiles are the
    source's size (the same blocks coded alike; DC differences at other seams, and the blank
    blocks of the edge tiles' padding: this texture, +0.9%)."""
    pytest.importorskip("cytotile.importer._jpegdct")
    src = write_jpeg_tiff(tmp_path / "s.tif", texture(960, 720), 240, libjpeg(80))
    level = probe(src)
    assert level.tables is not None
    source, _ = dctsource._scan_tables(level.complete(level.stream_of(0)))
    tiles = list(retile(level, tmp_path))
    ours, _ = dctsource._scan_tables(tiles[0].padded)
    assert ours == source
    assert sum(len(t.data) for t in tiles) <= 1.02 * sum(level.byte_counts)
