"""The C coefficient codec (``cytotile.importer._jpegdct``) against libjpeg (``jpeglib``, Pillow):
decoding real and synthetic baseline streams, encoding them back, counting symbols, and bad
input of every kind as ValueError."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cytotile.importer import _jpegdct
from tests.helpers.jpegtiff import sampled, texture
from tests.helpers.samples import sample
from tests.importer.jpegdct_builders import (
    Parsed,
    codes,
    corrupted,
    optimal,
    parse,
    reference,
    scan_data,
    wrap,
)


def pillow(pixels: np.ndarray, subsampling: int = 2, **options: object) -> bytes:
    """Pillow's (libjpeg's) baseline stream of the pixels (standard Huffman tables)."""
    out = io.BytesIO()
    mode = "L" if pixels.ndim == 2 else "RGB"
    Image.fromarray(pixels, mode).save(out, "JPEG", quality=75, subsampling=subsampling, **options)
    return out.getvalue()


def decoded(stream: bytes, shapes: list[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
    planes = tuple(np.full(shape, 7777, np.int16) for shape in shapes)
    _jpegdct.decode(stream, planes)
    return planes


def assert_decodes_as_libjpeg(stream: bytes, tmp_path: Path) -> None:
    ref = reference(stream, tmp_path)
    for plane, expected in zip(decoded(stream, [r.shape for r in ref]), ref, strict=True):
        np.testing.assert_array_equal(plane, expected)


def grey(width: int, height: int) -> np.ndarray:
    return np.ascontiguousarray(texture(width, height)[:, :, 1])


# --------------------------------------------------------------------------------------------
# decode


def test_decode_svs_tiles(tmp_path: Path) -> None:
    """Aperio tiles (JPEGTables shared) as the re-tiler reads them."""
    from cytotile.importer.retile import probe

    level = probe(sample("CMU-1-Small-Region.svs"))
    for index in range(0, len(level.offsets), 7):
        assert_decodes_as_libjpeg(level.stream_of(index), tmp_path)


def test_decode_ndpi_intervals(tmp_path: Path) -> None:
    """NDPI's restart intervals, each completed with the image's header (retile.JpegLevel)."""
    from cytotile.importer.retile import probe

    level = probe(sample("test3-DAPI.ndpi"))
    assert level.header is not None
    for index in (0, 1, 100, len(level.offsets) - 1):
        assert_decodes_as_libjpeg(level.stream_of(index), tmp_path)


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (17, 9), (37, 70), (64, 48)])
@pytest.mark.parametrize("subsampling", [-1, 0, 1, 2])  # grey, 4:4:4, 4:2:2, 4:2:0
def test_decode_pillow(size: tuple[int, int], subsampling: int, tmp_path: Path) -> None:
    """Sizes not a multiple of the MCU: the real blocks as libjpeg has them."""
    width, height = size
    pixels = grey(width, height) if subsampling < 0 else texture(width, height)
    assert_decodes_as_libjpeg(pillow(pixels, max(subsampling, 0)), tmp_path)


@pytest.mark.parametrize("factors", ["4:4:0", "4:1:1", "4:2:0"])
def test_decode_other_samplings(factors: str, tmp_path: Path) -> None:
    assert_decodes_as_libjpeg(sampled(factors)(texture(45, 27), 0), tmp_path)


def test_decode_simplejpeg_grey(tmp_path: Path) -> None:
    import simplejpeg

    stream = simplejpeg.encode_jpeg(
        np.ascontiguousarray(texture(30, 21)[:, :, :1]), 90, "GRAY", "Gray"
    )
    assert_decodes_as_libjpeg(stream, tmp_path)


@pytest.mark.parametrize("blocks", [1, 3, 5])
def test_decode_restart_intervals_libjpeg(blocks: int, tmp_path: Path) -> None:
    """DRI and RSTn as libjpeg writes them (Pillow's restart_marker_blocks), rows not a
    multiple of the interval."""
    stream = pillow(texture(70, 41), 2, restart_marker_blocks=blocks)
    assert parse(stream).restart == blocks
    assert_decodes_as_libjpeg(stream, tmp_path)


def test_decode_fills_dummy_blocks_and_bigger_planes() -> None:
    """Planes as big as the MCUs get the partial MCUs' dummy blocks: re-encoded with the
    stream's own tables, they give its scan data byte for byte."""
    stream = pillow(texture(37, 19), 2)
    p = parse(stream)
    planes = p.mcu_planes()
    _jpegdct.decode(stream, planes)
    assert planes[0].shape[:2] == (4, 6)  # 3x5 real blocks of Y
    assert _jpegdct.encode(planes, p.sampling, p.mcus, p.huffman()) == scan_data(stream)


def test_decode_strided_views(tmp_path: Path) -> None:
    stream = pillow(texture(50, 30), 1)
    ref = reference(stream, tmp_path)
    bigs = [np.zeros((r.shape[0] + 3, 2 * r.shape[1] + 5, 64), np.int16) for r in ref]
    views = tuple(
        b[2 : 2 + r.shape[0], 1 : 1 + 2 * r.shape[1] : 2] for b, r in zip(bigs, ref, strict=True)
    )
    _jpegdct.decode(stream, views)
    for view, big, r in zip(views, bigs, ref, strict=True):
        np.testing.assert_array_equal(view, r)
        big[2 : 2 + r.shape[0], 1 : 1 + 2 * r.shape[1] : 2] = 0
        assert not big.any()  # nothing written outside the views


def test_decode_returns_quantization_tables() -> None:
    stream = pillow(texture(16, 16), 2)
    tables = np.frombuffer(_jpegdct.decode(stream, parse(stream).mcu_planes()), "<u2")
    qt = Image.open(io.BytesIO(stream)).quantization  # natural order
    for t in range(4):
        expected = np.zeros(64, np.uint16)
        if t in qt:
            expected[:] = qt[t]
        np.testing.assert_array_equal(tables.reshape(4, 64)[t], expected)


def test_decode_in_threads(tmp_path: Path) -> None:
    stream = pillow(texture(200, 120), 2)
    ref = reference(stream, tmp_path)
    results: list[bool] = []

    def work() -> None:
        for _ in range(20):
            planes = decoded(stream, [r.shape for r in ref])
            results.append(all(np.array_equal(a, b) for a, b in zip(planes, ref, strict=True)))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 60


def test_decode_streams_of_other_tables_interleaved(tmp_path: Path) -> None:
    """Huffman tables are kept by their DHT bytes across calls: streams with tables of their own
    (optimized: each image's), more of them than are kept, decoded in turns, each as libjpeg."""
    streams = [pillow(texture(48 + 16 * k, 32, seed=k), 2, optimize=True) for k in range(6)]
    streams.append(pillow(grey(40, 24), 0, optimize=True))
    refs = [reference(stream, tmp_path) for stream in streams]
    for _ in range(2):
        for stream, ref in zip(streams, refs, strict=True):
            for plane, expected in zip(decoded(stream, [r.shape for r in ref]), ref, strict=True):
                np.testing.assert_array_equal(plane, expected)


# --------------------------------------------------------------------------------------------
# encode, gather


def reencoded(stream: bytes, optimized: bool) -> tuple[bytes, tuple[np.ndarray, ...]]:
    """The stream decoded then encoded again, with tables gathered (optimized) or its own."""
    p = parse(stream)
    planes = p.mcu_planes()
    quant = _jpegdct.decode(stream, planes)
    if not optimized:
        return wrap(
            p, quant, p.dht, _jpegdct.encode(planes, p.sampling, p.mcus, p.huffman())
        ), planes
    counts = np.zeros((len(planes), 2, 256), np.int64)
    _jpegdct.gather(planes, p.sampling, p.mcus, counts)
    dht, tables = {}, []
    p.scan = [(cid, k, k) for k, (cid, *_) in enumerate(p.comps)]  # a table pair per component
    for k in range(len(planes)):
        dht[0, k], dht[1, k] = optimal(counts[k, 0]), optimal(counts[k, 1])
        tables.append((*codes(*dht[0, k]), *codes(*dht[1, k])))
    data = _jpegdct.encode(planes, p.sampling, p.mcus, tuple(tables))
    return wrap(p, quant, dht, data), planes


@pytest.mark.parametrize("optimized", [False, True])
@pytest.mark.parametrize("subsampling", [-1, 0, 1, 2])
def test_encode_round_trip(subsampling: int, optimized: bool, tmp_path: Path) -> None:
    """libjpeg reads the re-encoded stream as the source: same coefficients, same pixels."""
    pixels = grey(61, 35) if subsampling < 0 else texture(61, 35)
    stream = pillow(pixels, max(subsampling, 0))
    again, _ = reencoded(stream, optimized)
    for a, b in zip(reference(again, tmp_path), reference(stream, tmp_path), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(again))), np.asarray(Image.open(io.BytesIO(stream)))
    )
    if optimized:
        assert len(again) < len(stream)


def test_encode_svs_tiles_with_own_tables() -> None:
    from cytotile.importer.retile import probe

    level = probe(sample("CMU-1-Small-Region.svs"))
    for index in range(0, len(level.offsets), 11):
        stream = level.stream_of(index)
        p = parse(stream)
        planes = p.mcu_planes()
        _jpegdct.decode(stream, planes)
        assert _jpegdct.encode(planes, p.sampling, p.mcus, p.huffman()) == scan_data(stream)


def test_encode_cmyk_and_sof1_with_own_tables(tmp_path: Path) -> None:
    """Four components (Adobe CMYK, 4:4:4), and an extended sequential frame (SOF1)."""
    out = io.BytesIO()
    Image.fromarray(texture(30, 20)).convert("CMYK").save(out, "JPEG", quality=80)
    stream = out.getvalue()
    sof1 = stream.replace(b"\xff\xc0", b"\xff\xc1", 1)
    assert_decodes_as_libjpeg(
        pillow(texture(30, 20), 2).replace(b"\xff\xc0", b"\xff\xc1", 1), tmp_path
    )
    for s in (stream, sof1):
        p = parse(s)
        planes = p.mcu_planes()
        _jpegdct.decode(s, planes)
        assert len(planes) == 4
        assert _jpegdct.encode(planes, p.sampling, p.mcus, p.huffman()) == scan_data(s)


def test_encode_strided_views() -> None:
    stream = pillow(texture(40, 40), 2)
    p = parse(stream)
    planes = p.mcu_planes()
    _jpegdct.decode(stream, planes)
    bigs = [np.zeros((q.shape[0] * 2, q.shape[1] + 4, 64), np.int16) for q in planes]
    views = []
    for big, q in zip(bigs, planes, strict=True):
        big[::2, 4:] = q
        views.append(big[::2, 4:])
    tables = p.huffman()
    assert _jpegdct.encode(tuple(views), p.sampling, p.mcus, tables) == scan_data(stream)
    counts = np.zeros((3, 2, 256), np.int64), np.zeros((3, 2, 256), np.int64)
    _jpegdct.gather(tuple(views), p.sampling, p.mcus, counts[0])
    _jpegdct.gather(planes, p.sampling, p.mcus, counts[1])
    np.testing.assert_array_equal(*counts)


def symbols(planes: tuple[np.ndarray, ...], p: Parsed) -> np.ndarray:
    """The symbols of the scan counted in Python (F.1.2.1, F.1.2.2), MCU by MCU."""
    from tests.importer.jpegdct_builders import ZIGZAG

    counts = np.zeros((len(planes), 2, 256), np.int64)
    pred = [0] * len(planes)
    mx, my = p.mcus
    for y in range(my):
        for x in range(mx):
            for k, (h, v) in enumerate(p.sampling):
                for j in range(v):
                    for i in range(h):
                        block = planes[k][y * v + j, x * h + i][ZIGZAG].tolist()
                        counts[k, 0, int(abs(block[0] - pred[k])).bit_length()] += 1
                        pred[k], run = block[0], 0
                        for c in block[1:]:
                            if c == 0:
                                run += 1
                                continue
                            counts[k, 1, 0xF0] += run // 16
                            counts[k, 1, (run % 16) << 4 | abs(c).bit_length()] += 1
                            run = 0
                        counts[k, 1, 0] += run > 0
    return counts


def test_gather_counts_what_encode_writes() -> None:
    """The counts are the symbols (counted again in Python), and their codes and extra bits
    make the encoded length."""
    stream = pillow(texture(45, 37), 1)
    p = parse(stream)
    planes = p.mcu_planes()
    _jpegdct.decode(stream, planes)
    counts = np.ones((3, 2, 256), np.int64)  # gather adds to what is there
    _jpegdct.gather(planes, p.sampling, p.mcus, counts)
    np.testing.assert_array_equal(counts - 1, symbols(planes, p))
    counts -= 1
    bits = 0
    for k, table in enumerate(p.huffman()):
        for c in (0, 1):
            sizes = np.frombuffer(table[2 * c + 1], np.uint8).astype(np.int64)
            extra = np.arange(256) if c == 0 else np.arange(256) & 15
            bits += int((counts[k, c] * (sizes + extra)).sum())
    data = _jpegdct.encode(planes, p.sampling, p.mcus, p.huffman())
    assert len(data.replace(b"\xff\x00", b"\xff")) == -(-bits // 8)


def test_encode_restart_intervals_crafted(tmp_path: Path) -> None:
    """A stream with DRI = 1 MCU, and another with one MCU row, written from encode()'s
    intervals and RSTn markers: libjpeg and decode read both as the source."""
    stream = pillow(texture(40, 56), 2)
    p = parse(stream)
    planes = p.mcu_planes()
    quant = _jpegdct.decode(stream, planes)
    mx, my = p.mcus
    tables = p.huffman()
    for interval in (1, mx):
        parts = []
        for n in range(mx * my // interval):
            y, x = divmod(n * interval, mx)
            part = tuple(q[y * v : (y + 1) * v, x * h : (x + interval) * h]
                         for q, (h, v) in zip(planes, p.sampling, strict=True))  # fmt: skip
            parts.append(_jpegdct.encode(part, p.sampling, (interval, 1), tables))
        data = b"".join(d + bytes([0xFF, 0xD0 + n % 8]) for n, d in enumerate(parts[:-1]))
        crafted = wrap(p, quant, p.dht, data + parts[-1], restart=interval)
        assert_decodes_as_libjpeg(crafted, tmp_path)
        again = decoded(crafted, [q.shape for q in planes])
        for a, b in zip(again, planes, strict=True):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(ValueError, match="RST1"):  # one marker left out
            _jpegdct.decode(crafted.replace(b"\xff\xd1", b"", 1), p.mcu_planes())
        with pytest.raises(ValueError, match="RST1"):  # out of sequence
            _jpegdct.decode(crafted.replace(b"\xff\xd1", b"\xff\xd2", 1), p.mcu_planes())


# --------------------------------------------------------------------------------------------
# bad input


def small_stream() -> bytes:
    return pillow(texture(24, 16), 2)


def test_truncated_at_every_length() -> None:
    """Cut anywhere before the scan's end: truncated; only the EOI may be missing."""
    stream = small_stream()
    p = parse(stream)
    for length in range(len(stream) - 2):
        with pytest.raises(ValueError, match=r"truncated|corrupt|not a JPEG"):
            _jpegdct.decode(stream[:length], p.mcu_planes())
    for length in (len(stream) - 2, len(stream) - 1):
        _jpegdct.decode(stream[:length], p.mcu_planes())
    _jpegdct.decode(stream + b"garbage after EOI", p.mcu_planes())


def test_random_byte_flips() -> None:
    """Thousands of corrupted streams: decoded or a ValueError, never a crash."""
    stream = small_stream()
    p = parse(stream)
    failed = 0
    for bad in corrupted(stream, 3000, seed=8):
        planes = tuple(
            np.zeros((q.shape[0] + 1, q.shape[1] + 1, 64), np.int16) for q in p.mcu_planes()
        )
        try:
            _jpegdct.decode(bad, planes)
        except ValueError:
            failed += 1
    assert 0 < failed < 3000


def patched(stream: bytes, old: bytes, new: bytes) -> bytes:
    assert old in stream
    return stream.replace(old, new, 1)


def test_unsupported_streams(tmp_path: Path) -> None:
    stream = small_stream()
    p = parse(stream)
    sof = stream.index(b"\xff\xc0")
    cases = {
        "progressive": pillow(texture(24, 16), 2, progressive=True),
        "12-bit": stream[: sof + 4] + b"\x0c" + stream[sof + 5 :],
        "arithmetic": stream[:sof] + b"\xff\xc9" + stream[sof + 2 :],
        "lossless": stream[:sof] + b"\xff\xc3" + stream[sof + 2 :],
        "frame size of 0": stream[: sof + 5] + b"\x00\x00" + stream[sof + 7 :],
        "non-interleaved": patched(
            stream, b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11", b"\xff\xda\x00\x08\x01\x01\x00"
        ),
        "not a JPEG": b"\x89PNG\r\n\x1a\n" + stream,
        "EOI before any scan": stream[: stream.index(b"\xff\xda")] + b"\xff\xd9",
    }
    for reason, bad in cases.items():
        with pytest.raises(ValueError, match=reason.split()[0]):
            _jpegdct.decode(bad, p.mcu_planes())


def test_corrupt_scan_data() -> None:
    stream = small_stream()
    start = parse(stream).sos_end
    bad = stream[:start] + b"\xff\xd3" + stream[start:]  # a marker inside the scan
    with pytest.raises(ValueError, match="truncated"):
        _jpegdct.decode(bad, parse(stream).mcu_planes())
    ones = stream[:start] + b"\xfe" * 40 + b"\xff\xd9"  # a run of 1-bits: no code
    with pytest.raises(ValueError, match=r"does not decode|past 63|category"):
        _jpegdct.decode(ones, parse(stream).mcu_planes())


def one_code_stream(dc_symbol: int, ac_symbol: int) -> bytes:
    """An 8x8 grey stream whose tables give a single symbol each (code "0"), data all zeros."""
    p = Parsed(width=8, height=8, comps=[(1, 1, 1, 0)], scan=[(1, 0, 0)])
    one = bytes([1] + [0] * 15)
    dht = {(0, 0): (one, bytes([dc_symbol])), (1, 0): (one, bytes([ac_symbol]))}
    return wrap(p, bytes(range(128)) + bytes(384), dht, bytes(16))


def test_decode_rejects_out_of_range_symbols() -> None:
    planes = (np.zeros((1, 1, 64), np.int16),)
    with pytest.raises(ValueError, match="DC magnitude category 12"):
        _jpegdct.decode(one_code_stream(12, 0x00), planes)
    with pytest.raises(ValueError, match="AC magnitude category 11"):
        _jpegdct.decode(one_code_stream(0, 0x0B), planes)
    with pytest.raises(ValueError, match="past 63"):
        _jpegdct.decode(one_code_stream(0, 0xF0), planes)  # ZRL after ZRL
    with pytest.raises(ValueError, match="past 63"):
        _jpegdct.decode(one_code_stream(0, 0xE1), planes)  # 14 zeros and a 1, again and again
    _jpegdct.decode(one_code_stream(0, 0x00), planes)  # DC 0, EOB
    assert not planes[0].any()


def test_bad_planes() -> None:
    stream = small_stream()  # 24x16 4:2:0: Y 2x3 blocks, Cb and Cr 1x2 (an MCU each)
    fine = [
        np.zeros((2, 3, 64), np.int16),
        np.zeros((1, 2, 64), np.int16),
        np.zeros((1, 2, 64), np.int16),
    ]
    _jpegdct.decode(stream, tuple(fine))
    cases = {
        "too small": (np.zeros((2, 2, 64), np.int16), *fine[1:]),
        "planes for": tuple(fine[:2]),
        "int16 array of shape": (np.zeros((2, 3, 64), np.int32), *fine[1:]),
        "shape": (np.zeros((2, 3, 8, 8), np.int16), *fine[1:]),
        "last axis": (np.zeros((2, 3, 128), np.int16)[:, :, ::2], *fine[1:]),
        "writable": (np.zeros((2, 3, 64), np.int16).view(), *fine[1:]),
    }
    cases["writable"][0].flags.writeable = False
    for reason, planes in cases.items():
        with pytest.raises(ValueError, match=reason):
            _jpegdct.decode(stream, planes)
    with pytest.raises(ValueError, match="tuple"):
        _jpegdct.decode(stream, fine[0])  # type: ignore[arg-type]


def test_encode_bad_arguments() -> None:
    stream = small_stream()
    p = parse(stream)
    planes = p.mcu_planes()
    _jpegdct.decode(stream, planes)
    tables = p.huffman()
    counts = np.zeros((3, 2, 256), np.int64)
    no_eob = tuple((dc, ds, bytes(4) + ac[4:], b"\x00" + acs[1:]) for dc, ds, ac, acs in tables)
    cases: dict[str, tuple[object, ...]] = {
        "too small": (planes, p.sampling, (p.mcus[0] + 1, p.mcus[1])),
        "sampling": (planes, ((2, 2), (1, 1)), p.mcus),
        "sampling of component": (planes, ((2, 5), (1, 1), (1, 1)), p.mcus),
        "mcus": (planes, p.sampling, (0, 1)),
        "last axis": (
            (np.zeros((2, 4, 128), np.int16)[:, :, ::2], *planes[1:]),
            p.sampling,
            p.mcus,
        ),
    }
    for reason, args in cases.items():
        with pytest.raises(ValueError, match=reason):
            _jpegdct.encode(*args, tables)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=reason):
            _jpegdct.gather(*args, counts)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="EOB"):
        _jpegdct.encode(planes, p.sampling, p.mcus, no_eob)
    with pytest.raises(ValueError, match="tables"):
        _jpegdct.encode(planes, p.sampling, p.mcus, tables[:2])
    dc, ds, ac, acs = tables[1]
    for bad in (
        (dc, ds, ac, acs[:200] + b"\x11" + acs[201:]),  # a size over 16
        (dc, ds, ac[:800] + (1 << 16).to_bytes(4, "little") + ac[804:], acs),  # over its size
        (dc, ds[:5] + b"\x00" + ds[6:], ac, acs),  # a code of size 0
    ):
        with pytest.raises(ValueError, match=r"tables\[1\]: (AC|DC) codes"):
            _jpegdct.encode(planes, p.sampling, p.mcus, (tables[0], bad, tables[2]))
    with pytest.raises(ValueError, match="counts"):
        _jpegdct.gather(planes, p.sampling, p.mcus, np.zeros((3, 2, 256), np.int32))
    big = planes[0].copy()
    big[0, 0, 1] = 2000  # AC category 11
    with pytest.raises(ValueError, match="AC coefficient"):
        _jpegdct.gather((big, *planes[1:]), p.sampling, p.mcus, counts)
    big[0, 0] = 0
    big[0, 0, 0] = -30000  # DC category 15
    with pytest.raises(ValueError, match="DC difference"):
        _jpegdct.encode((big, *planes[1:]), p.sampling, p.mcus, tables)


# --------------------------------------------------------------------------------------------
# the built module


def test_module_needs_only_old_libc() -> None:
    """The .so runs on the Lambda's glibc (no symbol version newer than 2.28) and links no
    library but libc (libpthread, libm)."""
    import re
    import shutil
    import subprocess

    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("no objdump")
    so = _jpegdct.__file__
    symbols = subprocess.run([objdump, "-T", so], capture_output=True, text=True, check=True)
    versions = {
        tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([\d.]+)", symbols.stdout)
    }
    assert versions and max(versions) <= (2, 28)
    headers = subprocess.run([objdump, "-p", so], capture_output=True, text=True, check=True)
    needed = set(re.findall(r"NEEDED\s+(\S+)", headers.stdout))
    assert needed <= {"libc.so.6", "libpthread.so.0", "libm.so.6"}
