"""JPEG stream surgery without decoding: shared quantization tables, APPn markers dropped."""

from __future__ import annotations

import numpy as np
import simplejpeg

from cytotile.importer import jpegmarkers as jm
from tests.helpers.jpegtiff import libjpeg, texture

APP0, APP14 = 0xE0, 0xEE


def markers(stream: bytes) -> list[int]:
    return [m for m, _, _ in jm.segments(stream)]


def test_split_quant_keeps_the_huffman_tables_in_the_tile() -> None:
    stream = simplejpeg.encode_jpeg(texture(64, 48), quality=80)  # with a JFIF APP0
    assert APP0 in markers(stream)
    tables, tile = jm.split_quant(stream)
    assert tables.endswith(b"\xff\xd9")
    assert markers(tables)[1:] == [jm.DQT] * markers(stream).count(jm.DQT)
    assert jm.DQT not in markers(tile) and APP0 not in markers(tile)
    assert jm.DHT in markers(tile)  # each tile's own (optimized) Huffman tables stay
    spliced = tables[:-2] + tile[2:]  # what the reader serves
    assert np.array_equal(simplejpeg.decode_jpeg(spliced), simplejpeg.decode_jpeg(stream))


def test_adobe_marker_stays_with_the_tile() -> None:
    rgb = jm.mark_rgb(libjpeg(80, subsample=False)(texture(32, 32), 0))
    _, tile = jm.split_quant(rgb)
    assert jm.ADOBE_RGB in tile  # an RGB-coded tile still says so


def test_drop_app() -> None:
    stream = simplejpeg.encode_jpeg(texture(32, 32), quality=80)
    dropped = jm.drop_app(jm.mark_rgb(stream))
    assert not any(0xE0 <= m <= 0xEF for m in markers(dropped))
    assert np.array_equal(simplejpeg.decode_jpeg(dropped), simplejpeg.decode_jpeg(stream))
    plain = jm.drop_app(stream)
    assert jm.drop_app(plain) is plain  # nothing to drop: the same object


def test_table_splitter_is_split_tables() -> None:
    """Streams of one encoder, sizes and qualities mixed (a new one parsed, the next ones of
    its headers sliced): every split is split_tables's."""
    rng = np.random.default_rng(5)
    splitter = jm.TableSplitter()
    for i in range(24):
        shape = (256, 256) if i % 4 else (40 + i, 90 - i)
        pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        stream = bytes(simplejpeg.encode_jpeg(pixels, quality=70 + 10 * (i // 8)))
        assert splitter.split(stream) == jm.split_tables(stream), i


def test_natural_quant_is_the_codecs() -> None:
    """The tables as the C codec's decode returns them: natural order, ids 0-3, zeros unused."""
    from cytotile.importer import _jpegdct
    from tests.importer.jpegdct_builders import parse

    for quality in (30, 75, 95):
        stream = libjpeg(quality, subsample=True)(texture(48, 32), 0)
        planes = parse(stream).mcu_planes()
        assert jm.natural_quant(jm.quant_tables(stream)) == _jpegdct.decode(stream, planes)


def nearest_quality(luma: tuple[int, ...]) -> int:
    """estimate_quality's definition, every quality's distance counted."""
    q = np.arange(1, 101)
    scale = np.where(q < 50, 5000 // q, 200 - 2 * q)
    tables = np.clip((np.outer(scale, jm._STD_LUMA_ZIGZAG) + 50) // 100, 1, 255)
    distance = np.abs(tables - np.asarray(luma, np.int64)).sum(axis=1)
    return int(q[np.argmin(distance)])  # the first of equally near ones


def test_quality_of_every_ijg_table() -> None:
    for quality in range(1, 101):
        scale = 5000 // quality if quality < 50 else 200 - 2 * quality
        luma = tuple(min(max((v * scale + 50) // 100, 1), 255) for v in jm._STD_LUMA_ZIGZAG)
        assert jm.estimate_quality(luma) == nearest_quality(luma) == quality


def test_quality_of_other_tables_is_the_nearest() -> None:
    rng = np.random.default_rng(8)
    for top in (1, 2, 8, 60, 255, 1000, 65535):  # 16-bit tables too
        for _ in range(150):
            luma = tuple(int(v) for v in rng.integers(1, top + 1, 64))
            assert jm.estimate_quality(luma) == nearest_quality(luma)
    for _ in range(300):  # near an IJG table: ties and near misses
        scale = int(rng.integers(0, 300))
        noise = rng.integers(-3, 4, 64)
        luma = tuple(
            max(1, min(max((v * scale + 50) // 100, 1), 255) + int(n))
            for v, n in zip(jm._STD_LUMA_ZIGZAG, noise, strict=True)
        )
        assert jm.estimate_quality(luma) == nearest_quality(luma)
