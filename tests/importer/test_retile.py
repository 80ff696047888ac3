"""Lossless re-tiling of JPEG-tiled sources: level 0 decodes to the source's own pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyvips
import simplejpeg

from cytotile.importer import dctcoding, dctretile, dctsource
from cytotile.importer import jpegmarkers as jm
from cytotile.importer import retile as retile_module
from cytotile.importer.dctcodec import Codec
from cytotile.importer.retile import NotRetilable, probe, retile
from tests.helpers.jpegtiff import libjpeg, sampled, texture, write_jpeg_tiff

WIDTH, HEIGHT, SOURCE_TILE = 1000, 700, 240


def source_pixels(path: Path) -> np.ndarray:
    """The source decoded by libvips (libtiff + libjpeg), independently of cytotile."""
    pixels: np.ndarray = pyvips.Image.tiffload(str(path)).numpy()
    return pixels


def far_from_seams(width: int, height: int, margin: int = 16) -> np.ndarray:
    """Pixels at least ``margin`` away from every source-tile and 256-tile boundary and from the
    image's edge (chroma upsampling near a seam reads the neighbouring tile's samples; at the
    image's edge a source tile has its padding there, an exact-size tile nothing)."""

    def axis(n: int) -> np.ndarray:
        x = np.arange(n)
        near = x >= n - margin
        for tile in (SOURCE_TILE, 256):
            d = x % tile
            near |= (d < margin) | (d >= tile - margin)
        return ~near

    return np.outer(axis(height), axis(width))


@pytest.mark.parametrize(
    ("subsample", "restart", "shared"),
    [(True, 0, True), (False, 0, True), (True, 2, False), (False, 1, False)],
    ids=["420-tables", "444-tables", "420-restart-per-tile", "444-restart-per-tile"],
)
def test_retiled_tiles_are_the_source(
    tmp_path: Path, subsample: bool, restart: int, shared: bool
) -> None:
    pixels = texture(WIDTH, HEIGHT)
    encode = libjpeg(75, subsample=subsample, restart=restart)
    sampling = (2, 2) if subsample else (1, 1)
    src = write_jpeg_tiff(
        tmp_path / "src.tif",
        pixels,
        SOURCE_TILE,
        encode,
        shared_tables=shared,
        subsampling=sampling,
    )
    level = probe(src)
    first = level.stream_of(0)
    assert jm.has_marker(first, jm.DRI) == bool(restart)
    reference = source_pixels(src).astype(np.int16)
    mask = far_from_seams(WIDTH, HEIGHT)
    tiles = list(retile(level, tmp_path))
    assert len(tiles) == 4 * 3
    for tile in tiles:
        x0, y0 = tile.tx * 256, tile.ty * 256
        w, h = min(256, WIDTH - x0), min(256, HEIGHT - y0)
        padded = simplejpeg.decode_jpeg(tile.padded)
        assert padded.shape == (256, 256, 3)
        stream = tile.exact if (w, h) != (256, 256) else tile.padded
        assert (tile.exact is None) == ((w, h) == (256, 256))
        assert stream is not None
        served = simplejpeg.decode_jpeg(stream).astype(np.int16)
        assert served.shape == (h, w, 3)  # edge tiles at their exact size
        expected = reference[y0 : y0 + h, x0 : x0 + w]
        inside = mask[y0 : y0 + h, x0 : x0 + w]
        assert np.array_equal(served[inside], expected[inside]), (tile.tx, tile.ty)
        # at the seams, 4:2:0 chroma upsampling reads other neighbours (this noisy texture: < 32)
        assert int(np.abs(served - expected).max()) <= (32 if subsample else 0)
        assert np.array_equal(padded[:h, :w][inside], served[inside].astype(np.uint8))


def test_rgb_coded_tiles_stay_rgb(tmp_path: Path) -> None:
    """Photometric RGB (Aperio): the components are R, G, B; the output says so (Adobe)."""
    pixels = texture(600, 300)
    src = write_jpeg_tiff(
        tmp_path / "src.tif",
        pixels,
        SOURCE_TILE,
        libjpeg(80, subsample=False),
        photometric=6,
        subsampling=(1, 1),
    )
    level = probe(src)
    assert level.colorspace == "JCS_YCbCr"
    rgb = write_jpeg_tiff(
        tmp_path / "rgb.tif", pixels, SOURCE_TILE, libjpeg(80, subsample=False), photometric=2
    )
    assert probe(rgb).colorspace == "JCS_RGB"
    for tile in retile(probe(rgb), tmp_path):
        assert jm.ADOBE_RGB in tile.data[:40]  # the stored tile, spliced after JPEGTables
        assert tile.exact is None or jm.ADOBE_RGB in tile.exact[:40]


@pytest.mark.parametrize(
    ("encoder", "reason"),
    [(sampled("4:1:1"), "multiple of the MCU"), (libjpeg(75, progressive=True), "baseline")],
    ids=["mcu-32x8", "progressive"],
)
def test_sources_that_do_not_qualify(tmp_path: Path, encoder: object, reason: str) -> None:
    src = write_jpeg_tiff(
        tmp_path / "src.tif",
        texture(500, 300),
        SOURCE_TILE,
        encoder,  # type: ignore[arg-type]
        shared_tables=False,
    )
    with pytest.raises(NotRetilable, match=reason):
        probe(src)


def test_other_tables_in_a_later_tile(tmp_path: Path) -> None:
    def encode(tile: np.ndarray, index: int) -> bytes:
        return libjpeg(60 if index == 3 else 75)(tile, index)

    src = write_jpeg_tiff(
        tmp_path / "src.tif", texture(1000, 300), SOURCE_TILE, encode, shared_tables=False
    )
    with pytest.raises(NotRetilable, match="quantization tables"):
        list(retile(probe(src), tmp_path))


@pytest.mark.parametrize("broken", [1, 7], ids=["first-row", "later-row"])
@pytest.mark.parametrize("how", ["no-frame", "cut"])
def test_a_broken_tile_is_not_retilable(tmp_path: Path, broken: int, how: str) -> None:
    """A tile without a frame (refused when its step is opened) or cut short (failing when the
    step runs), in the first source row or a later one: NotRetilable naming it, every helper
    done (no step left running)."""

    def encode(tile: np.ndarray, index: int) -> bytes:
        data = libjpeg(75)(tile, index)
        if index != broken:
            return data
        return b"\xff\xd8\xff\xd9" if how == "no-frame" else data[: len(data) // 2] + b"\xff\xd9"

    src = write_jpeg_tiff(
        tmp_path / "src.tif", texture(1000, 500), SOURCE_TILE, encode, shared_tables=False
    )
    with pytest.raises(NotRetilable, match=f"tile {broken}"):
        list(retile(probe(src), tmp_path))


def test_quality_estimate() -> None:
    for quality in (30, 50, 75, 85, 95):
        stream = libjpeg(quality)(texture(64, 64), 0)
        assert jm.estimate_quality(jm.quant_tables(stream)[0]) == quality


def test_threads_and_bands_do_not_change_the_tiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bands of rows re-tiled by several threads give the same tiles, in the same order, as one
    thread (each band reads the source rows it needs itself)."""
    src = write_jpeg_tiff(tmp_path / "src.tif", texture(WIDTH, HEIGHT), SOURCE_TILE, libjpeg(75))
    level = probe(src)
    monkeypatch.setattr(retile_module, "BAND_ROWS", 1)  # 3 bands of 1 row
    one = [(t.tx, t.ty, t.padded, t.exact) for t in retile(level, tmp_path, threads=1)]
    three = [(t.tx, t.ty, t.padded, t.exact) for t in retile(level, tmp_path, threads=3)]
    assert one == three
    assert [(tx, ty) for tx, ty, _, _ in one] == [(tx, ty) for ty in range(3) for tx in range(4)]


def test_codec_round_trip(tmp_path: Path) -> None:
    """Coefficients read and written back decode to the same pixels, exactly."""
    stream = libjpeg(75)(texture(240, 240), 0)
    frame = jm.frame(stream)
    assert frame is not None
    codec = Codec(frame, "JCS_YCbCr", tmp_path)
    try:
        comps = codec.read(stream, 240, 240)
        assert [c.shape for c in comps] == [(30, 30, 8, 8), (15, 15, 8, 8), (15, 15, 8, 8)]
        again = codec.write(comps, 240, 240)
        back = codec.read(again, 240, 240)
        assert all(np.array_equal(a, b) for a, b in zip(back, comps, strict=True))
        assert np.array_equal(simplejpeg.decode_jpeg(again), simplejpeg.decode_jpeg(stream))
        # a partial MCU: libjpeg's own block counts (no dummy blocks)
        assert [c.shape[:2] for c in codec.read(codec.write(comps, 200, 100), 200, 100)] == [
            (13, 25),
            (7, 13),
            (7, 13),
        ]
    finally:
        codec.close()
    assert not codec.path.exists()


def test_a_wide_level_gets_fewer_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each thread holds a source tile's coefficients and the transcoded rows an output row
    spans: over the memory budget, the re-tiling runs in one thread (the same tiles)."""
    src = write_jpeg_tiff(tmp_path / "src.tif", texture(WIDTH, HEIGHT), SOURCE_TILE, libjpeg(75))
    level = probe(src)
    # a tile of 240x240 4:2:0 (900 + 2 x 225 blocks of 64 coefficients, int16), and 2 rows of
    # 5 tiles transcoded (a quarter of that each): an output row starts at most 224 pixels
    # into a source row (256 k mod 240), never spans 3
    assert retile_module.row_bytes(level) == 1350 * 128 + 2 * 5 * 1350 * 128 // 4
    expected = [t.padded for t in retile(level, tmp_path, threads=1)]

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("no thread pool over the memory budget")

    monkeypatch.setattr(
        retile_module, "workers", lambda: 16
    )  # 4 bands of 4 CPUs, but for the budget
    monkeypatch.setattr(retile_module, "MEMORY_BUDGET", retile_module.row_bytes(level) - 1)
    monkeypatch.setattr(retile_module, "ThreadPoolExecutor", no_pool)
    assert [t.padded for t in retile(level, tmp_path)] == expected


@pytest.mark.parametrize("photometric", [6, 2, 1], ids=["ycbcr-420", "rgb-444", "grey"])
def test_codec_and_jpeglib_paths_give_the_same_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, photometric: int
) -> None:
    """The C codec's tiles (one set of Huffman tables for the level, in its JPEGTables: the
    source's own, or counted) decode to the same pixels as the jpeglib fallback's (optimized
    tables per tile, in each tile)."""
    pytest.importorskip("cytotile.importer._jpegdct")
    pixels = texture(WIDTH, HEIGHT)
    if photometric == 1:
        pixels = pixels[:, :, :1].copy()
    encode = libjpeg(75, subsample=photometric == 6)
    src = write_jpeg_tiff(tmp_path / "s.tif", pixels, SOURCE_TILE, encode, photometric=photometric)
    level = probe(src)
    fast = list(retile(level, tmp_path, threads=2))
    monkeypatch.setattr(dctsource, "KEEP_SOURCE_TABLES", False)
    counted = list(retile(level, tmp_path, threads=2))
    monkeypatch.setattr(dctretile, "codec", lambda: None)  # the extension "not built"
    slow = list(retile(level, tmp_path, threads=2))
    assert [(t.tx, t.ty) for t in fast] == [(t.tx, t.ty) for t in slow]
    assert len({t.tables for t in fast}) == len({t.tables for t in slow}) == 1
    assert fast[0].tables != counted[0].tables
    for a, c, b in zip(fast, counted, slow, strict=True):
        for tile in (a, c):
            assert jm.has_marker(tile.tables, jm.DHT) and jm.has_marker(tile.tables, jm.DQT)
            assert not jm.has_marker(tile.data, jm.DHT) and not jm.has_marker(tile.data, jm.DQT)
            assert np.array_equal(decode(tile.padded), decode(b.padded)), (a.tx, a.ty)
            assert (tile.exact is None) == (b.exact is None)
            if tile.exact is not None and b.exact is not None:  # complete, tables included
                assert np.array_equal(decode(tile.exact), decode(b.exact)), (a.tx, a.ty)
        assert not jm.has_marker(b.tables, jm.DHT) and jm.has_marker(b.data, jm.DHT)
    # the source's tables: its tiles' size (blank padding, not the source's, at the edges);
    # counted tables cost little against each tile's own (this texture: within 3%)
    assert sum(len(t.data) for t in fast) <= 1.01 * sum(level.byte_counts)
    assert sum(len(t.data) for t in counted) <= 1.03 * sum(len(t.data) for t in slow)


def decode(stream: bytes) -> np.ndarray:
    """A stream's pixels as libjpeg (through libvips) decodes it, whatever its components."""
    pixels: np.ndarray = pyvips.Image.new_from_buffer(stream, "").numpy()
    return pixels


def test_sample_spreads_over_the_level() -> None:
    assert dctcoding.sample(5) == [0, 1, 2, 3, 4]  # fewer than MIN_SAMPLE: all
    picks = dctcoding.sample(20000)
    assert len(picks) == 400 and picks[0] == 0 and picks[-1] == 19999
    gaps = np.diff(picks)
    assert gaps.min() >= 49 and gaps.max() <= 51


@pytest.mark.parametrize(
    ("bands", "gain", "sets", "keep"),
    [(3, 0.5, 1, False), (3, -1.0, 1, False), (1, -1.0, 2, False), (3, -1.0, 1, True)],
    ids=["ycbcr-one-set", "ycbcr-baseline-keeps-one-set", "grey-two-sets", "source-tables"],
)
def test_served_level_0_with_the_tables_in_jpegtables(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bands: int,
    gain: float,
    sets: int,
    keep: bool,
) -> None:
    """Level 0's JPEGTables holds its Huffman tables (C codec) and the readers splice them:
    passthrough (tables + tile), decoded tiles, and libtiff (libvips) reading the stored TIFF
    all give the source's own pixels. Tiles stay baseline (SOF0): a YCbCr level keeps one set
    of tables even when a second would pay (it would need four tables: SOF1); a grey level may
    take two, each tile selecting one (counted tables; the source's own are one set)."""
    monkeypatch.setattr(dctcoding, "MIN_GAIN", gain)
    monkeypatch.setattr(dctsource, "KEEP_SOURCE_TABLES", keep)
    from cytotile.importer.jpegpath import write_jpeg_pyramid
    from cytotile.pyramid import normalized_sizes
    from cytotile.storage.local import LocalStorage
    from cytotile.tiff.layout import PyramidHeader
    from cytotile.tiff.reader import PyramidReader

    pixels = np.ascontiguousarray(texture(600, 300)[:, :, :bands])
    photometric = 6 if bands == 3 else 1
    encoder = libjpeg(80, subsample=False)
    src = write_jpeg_tiff(tmp_path / "s.tif", pixels, SOURCE_TILE, encoder, photometric=photometric)
    reference = source_pixels(src)
    sizes = normalized_sizes(600, 300)
    header = PyramidHeader(600, 300, len(sizes), n_samples=bands)
    write_jpeg_pyramid(probe(src), tmp_path / "p.tif", header, sizes, 85, tmp_path)
    reader = PyramidReader.load(LocalStorage(tmp_path), "p.tif")
    tier = reader.tier(0, 0)
    assert tier.jpeg_tables is not None
    assert jm.has_marker(tier.jpeg_tables, jm.DHT) == (dctretile.codec() is not None)
    if dctretile.codec() is not None:
        frame = jm.frame(reader.jpeg_tile(0, 0, 0, 0))
        assert frame is not None and frame.marker == 0xC0
        groups = 2 if bands == 3 else 1  # Y and CbCr, or grey
        expected = {cls << 4 | table for cls in (0, 1) for table in range(groups * sets)}
        assert set(_huffman_ids(tier.jpeg_tables)) == expected
        used = set()
        for ti in range(tier.n_tx * tier.n_ty):
            stream = reader.jpeg_tile(0, 0, ti % tier.n_tx, ti // tier.n_tx)
            sos = jm.segments(stream)[-1][1]  # SOS: Ns, then (id, Td << 4 | Ta) a component
            used.add(tuple(stream[sos + 6 : sos + 5 + 2 * stream[sos + 4] : 2]))
        assert used == ({(0x00, 0x11, 0x11)} if bands == 3 else {(0x00,), (0x11,)})
    for ty in range(tier.n_ty):
        for tx in range(tier.n_tx):
            part = reference[ty * 256 : ty * 256 + 256, tx * 256 : tx * 256 + 256]
            space = "RGB" if bands == 3 else "GRAY"
            tile = simplejpeg.decode_jpeg(reader.jpeg_tile(0, 0, tx, ty), colorspace=space)
            assert np.array_equal(tile.reshape(part.shape), part)
            assert np.array_equal(reader.read_tile(0, 0, tx, ty).reshape(part.shape), part)
    stored = pyvips.Image.tiffload(str(tmp_path / "p.tif"), page=0).numpy()
    assert np.array_equal(stored.reshape(reference.shape), reference)


def _huffman_ids(tables: bytes) -> list[int]:
    """The (class << 4 | id) of each table in a stream's DHT segments."""
    out = []
    for marker, start, end in jm.segments(tables):
        pos = start + 4
        while marker == jm.DHT and pos < end:
            out.append(tables[pos])
            pos += 17 + sum(tables[pos + 1 : pos + 17])
    return out


@pytest.mark.parametrize(
    ("tile_height", "n_ty", "threads", "rows"),
    [(240, 118, 2, 15), (256, 118, 2, 16), (512, 118, 2, 16), (200, 118, 2, 25), (240, 9, 2, 5)],
)
def test_band_seams_meet_the_source_rows(
    tile_height: int, n_ty: int, threads: int, rows: int
) -> None:
    """A band starts where a source row does when the grids meet within about BAND_ROWS rows
    (no source row decoded by two bands); a small level is shared between the threads."""
    level = probe_like(tile_height)
    assert retile_module.band_rows(level, n_ty, threads) == rows
    if rows != 5:
        assert rows * 256 % tile_height == 0


def probe_like(tile_height: int) -> retile_module.JpegLevel:
    frame = jm.Frame(0xC0, 256, tile_height, ((1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)))
    return retile_module.JpegLevel(
        Path("x"), 30000, 30000, 256, tile_height, (0,), (1,), None, 6, frame, {}
    )


@pytest.mark.parametrize(
    ("width", "height", "tile"),
    [(1100, 600, 512), (700, 500, 128), (100, 250, 240), (520, 40, 64)],
    ids=["tiles-512", "tiles-128", "narrower-than-a-tile", "one-row"],
)
def test_codec_geometries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int, height: int, tile: int
) -> None:
    """Source tiles larger or smaller than 256, a level narrower than a tile or lower than an
    output row: the codec's planes give the jpeglib path's pixels, padded and exact tiles."""
    pytest.importorskip("cytotile.importer._jpegdct")
    src = write_jpeg_tiff(tmp_path / "s.tif", texture(width, height), tile, libjpeg(80))
    level = probe(src)
    fast = list(retile(level, tmp_path, threads=2))
    monkeypatch.setattr(dctretile, "codec", lambda: None)
    slow = list(retile(level, tmp_path, threads=1))
    assert [(t.tx, t.ty) for t in fast] == [(t.tx, t.ty) for t in slow]
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(decode(a.padded), decode(b.padded)), (a.tx, a.ty)
        assert (a.exact is None) == (b.exact is None)
        if a.exact is not None and b.exact is not None:
            assert np.array_equal(decode(a.exact), decode(b.exact)), (a.tx, a.ty)


def test_two_sets_of_tables_follow_the_source_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sparse and dense tiles counted apart get a set each when that codes the sample smaller
    (a grey level: baseline's two tables); each output tile takes the set of the source bytes
    it covers (here a row each). A YCbCr level with the same statistics keeps one set."""
    grey = jm.Frame(0xC0, 256, 256, ((1, 1, 1, 0),))
    sizes = (1000,) * 4 + (9000,) * 4  # stored bytes of the 4x2 source tiles
    level = retile_module.JpegLevel(
        Path("x"), 1024, 512, 256, 256, tuple(range(8)), sizes, None, 1, grey, {}
    )
    symbols = np.zeros((8, 1, 2, 256), np.int64)
    symbols[:4, :, 0, 1], symbols[:4, :, 1, 0x00] = 900, 900  # sparse: small DC steps, EOBs
    symbols[4:, :, 0, 6], symbols[4:, :, 1, 0x03] = 900, 5000  # dense: big DC steps, AC size 3
    two = dctcoding.Tables(level, symbols, list(range(8)))
    assert len(two.sets) == 2 and two.marker == 0xC0 and two.ids == [(0,), (1,)]
    assert two.choose(0) == [0] * 4 and two.choose(1) == [1] * 4
    monkeypatch.setattr(dctcoding, "MIN_GAIN", 0.99)  # a second set must save 99%: never
    one = dctcoding.Tables(level, symbols, list(range(8)))
    assert len(one.sets) == 1 and one.marker == 0xC0 and one.ids == [(0,)]
    assert one.choose(1) == [0] * 4
    monkeypatch.setattr(dctcoding, "MIN_GAIN", -1.0)  # any gain would do: still one set
    ycbcr = jm.Frame(0xC0, 256, 256, ((1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)))
    level = retile_module.JpegLevel(
        Path("x"), 1024, 512, 256, 256, tuple(range(8)), sizes, None, 6, ycbcr, {}
    )
    colour = np.repeat(symbols, 3, axis=1)
    kept = dctcoding.Tables(level, colour, list(range(8)))
    assert len(kept.sets) == 1 and kept.marker == 0xC0 and kept.ids == [(0, 1, 1)]


def test_grey_frame_declaring_2x2_sampling(tmp_path: Path) -> None:
    """A grey tile's frame may declare 2x2 sampling for its one component: its scan is still
    non-interleaved (an MCU is one block, in raster order), so the codec re-tiles it losslessly
    like a 1x1 grey frame (not NotRetilable, which would re-encode it)."""
    pytest.importorskip("cytotile.importer._jpegdct")
    encode = libjpeg(80)

    def declared_2x2(tile: np.ndarray, index: int) -> bytes:
        stream = bytearray(encode(tile, index))
        frame = jm.frame(bytes(stream))
        assert frame is not None and frame.components[0][1:3] == (1, 1)
        sof = next(start for marker, start, _ in jm.segments(bytes(stream)) if marker == 0xC0)
        assert stream[sof + 11] == 0x11  # length, precision, height, width, Nf, id, then HV
        stream[sof + 11] = 0x22
        return bytes(stream)

    pixels = np.ascontiguousarray(texture(600, 300)[:, :, :1])
    src = write_jpeg_tiff(tmp_path / "s.tif", pixels, SOURCE_TILE, declared_2x2, photometric=1)
    level = probe(src)
    assert level.frame.components[0][1:3] == (2, 2)
    reference = source_pixels(src).reshape(300, 600)
    for tile in retile(level, tmp_path, threads=2):
        y0, x0 = tile.ty * 256, tile.tx * 256
        part = reference[y0 : y0 + 256, x0 : x0 + 256]
        stream = tile.exact or tile.padded
        decoded = simplejpeg.decode_jpeg(stream, colorspace="GRAY")
        assert np.array_equal(decoded[: part.shape[0], : part.shape[1], 0], part)
