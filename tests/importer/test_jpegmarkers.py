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
