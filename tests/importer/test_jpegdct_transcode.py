"""``_jpegdct.transcode``, ``assemble`` and ``count``: source tiles' AC symbols coded with the
output's tables as they are decoded, output tiles assembled from them byte-identical to
``encode`` of the same blocks; the sample's symbols counted while decoding, as ``gather`` counts
them after."""

from __future__ import annotations

import contextlib
import io
import struct

import numpy as np
import pytest
from PIL import Image

from cytotile.importer import _jpegdct
from tests.helpers.jpegtiff import texture
from tests.importer.jpegdct_builders import Parsed, codes, corrupted, optimal, parse

Tables = tuple[tuple[bytes, bytes, bytes, bytes], ...]
SUBSAMPLINGS = [-1, 0, 1, 2]  # grey, 4:4:4, 4:2:2, 4:2:0 (Pillow's)


def stream_of(pixels: np.ndarray, subsampling: int, **options: object) -> bytes:
    out = io.BytesIO()
    mode = "L" if subsampling == -1 else "RGB"
    image = pixels[:, :, 1] if subsampling == -1 else pixels
    Image.fromarray(np.ascontiguousarray(image), mode).save(
        out, "JPEG", quality=80, subsampling=max(subsampling, 0), **options
    )
    return out.getvalue()


def decoded(stream: bytes) -> tuple[Parsed, tuple[np.ndarray, ...]]:
    p = parse(stream)
    planes = p.mcu_planes()
    _jpegdct.decode(stream, planes)
    return p, planes


def tables_for(planes: tuple[np.ndarray, ...], p: Parsed, skew: int = 0) -> Tables:
    """Optimal tables for the planes' symbols (each given a code); ``skew`` makes a second,
    different set (some symbols counted more)."""
    counts = np.ones((len(planes), 2, 256), np.int64)
    _jpegdct.gather(planes, p.sampling, p.mcus, counts)
    counts[:, 1, 1::7] += skew * counts[:, 1].max()
    return tuple(
        (*codes(*optimal(counts[k, 0])), *codes(*optimal(counts[k, 1]))) for k in range(len(planes))
    )


def own_tables(p: Parsed) -> Tables:
    """The stream's own tables, each component's: transcode then copies its AC codes."""
    ids = {cid: (td, ta) for cid, td, ta in p.scan}
    return tuple(
        (*codes(*p.dht[0, ids[cid][0]]), *codes(*p.dht[1, ids[cid][1]])) for cid, *_ in p.comps
    )


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("restart", [0, 1, 3])
def test_count_is_decode_then_gather(subsampling: int, restart: int) -> None:
    """The same counts (DC differences from the previous block of the component in the scan,
    restart markers or not, as gather sees the planes); counts are added to."""
    options = {"restart_marker_blocks": restart} if restart else {}
    stream = stream_of(texture(75, 46), subsampling, **options)
    p, planes = decoded(stream)
    assert p.restart == restart
    gathered = np.ones((len(planes), 2, 256), np.int64)
    _jpegdct.gather(planes, p.sampling, p.mcus, gathered)
    counted = np.ones((len(planes), 2, 256), np.int64)
    _jpegdct.count(stream, counted)
    np.testing.assert_array_equal(counted, gathered)


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
def test_transcode_decodes_and_codes_each_block(subsampling: int) -> None:
    """Its planes and quantization tables are decode's; assembled alone, the tile is encode's."""
    stream = stream_of(texture(70, 53), subsampling, restart_marker_blocks=2)
    p, planes = decoded(stream)
    tables = tables_for(planes, p)
    mine = p.mcu_planes()
    quant, bits, records = _jpegdct.transcode(stream, mine, (tables,))
    assert quant == _jpegdct.decode(stream, p.mcu_planes())
    for a, b in zip(mine, planes, strict=True):
        np.testing.assert_array_equal(a, b)
    blocks = p.mcus[0] * p.mcus[1] * sum(h * v for h, v in p.sampling)
    assert len(records) == 8 * blocks
    scan = _jpegdct.assemble(((bits, records),), (1, 1), (0, 0), p.mcus, p.sampling, p.mcus,
                             p.mcus, tables)  # fmt: skip
    assert scan == _jpegdct.encode(planes, p.sampling, p.mcus, tables)


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("restart", [0, 1, 3])
def test_copy_keeps_the_source_codes(subsampling: int, restart: int) -> None:
    """With the stream's own AC tables, the store is its scan data unstuffed, its restart
    markers taken out (no symbol coded again); the planes are decode's, and the tile assembled
    alone is encode's (the source's codes are canonical, as encode's are)."""
    options = {"restart_marker_blocks": restart} if restart else {}
    stream = stream_of(texture(70, 53), subsampling, **options)
    p, planes = decoded(stream)
    tables = own_tables(p)
    mine = p.mcu_planes()
    quant, bits, records = _jpegdct.transcode(stream, mine, (tables,))
    assert quant == _jpegdct.decode(stream, p.mcu_planes())
    for a, b in zip(mine, planes, strict=True):
        np.testing.assert_array_equal(a, b)
    data = stream[p.sos_end : stream.rindex(b"\xff\xd9")]
    for n in range(8):
        data = data.replace(bytes([0xFF, 0xD0 + n]), b"")
    assert bits == data.replace(b"\xff\x00", b"\xff") + bytes(8)
    scan = _jpegdct.assemble(((bits, records),), (1, 1), (0, 0), p.mcus, p.sampling, p.mcus,
                             p.mcus, tables)  # fmt: skip
    assert scan == _jpegdct.encode(planes, p.sampling, p.mcus, tables)
    other = tables_for(planes, p)  # other tables: each symbol coded again, the same blocks
    _, coded, _ = _jpegdct.transcode(stream, p.mcu_planes(), (other,))
    assert coded != bits


def test_copy_checks_the_restart_markers() -> None:
    """A marker out of sequence, a missing one, or an interval with data left where its RSTn
    is due: the ValueErrors decode gives."""
    stream = stream_of(texture(48, 16), 0, restart_marker_blocks=1)
    p, _ = decoded(stream)
    tables = (own_tables(p),)
    rst = [k for k in range(p.sos_end, len(stream) - 1) if stream[k] == 0xFF
           and 0xD0 <= stream[k + 1] <= 0xD7]  # fmt: skip
    assert len(rst) == 11  # 12 MCUs of 8x8, an interval each
    swapped = bytearray(stream)
    swapped[rst[1] + 1] = 0xD5
    with pytest.raises(ValueError, match="marker 0xD5 where RST1 is due"):
        _jpegdct.transcode(bytes(swapped), p.mcu_planes(), tables)
    with pytest.raises(ValueError, match="RST"):  # an interval and its marker gone
        _jpegdct.transcode(stream[: rst[2]] + stream[rst[3] :], p.mcu_planes(), tables)
    cut = stream[: rst[-1]] + b"\xff\xd9"  # the last interval gone
    with pytest.raises(ValueError, match="RST2"):  # the 11th
        _jpegdct.transcode(cut, p.mcu_planes(), tables)
    longer = stream[: rst[0]] + b"\x55" + stream[rst[0] :]  # a byte more in the first interval
    with pytest.raises(ValueError, match="data where RST0 is due"):
        _jpegdct.transcode(longer, p.mcu_planes(), tables)
    for bad in (bytes(swapped), longer):
        with pytest.raises(ValueError):
            _jpegdct.decode(bad, p.mcu_planes())


class Mosaic:
    """A level of source tiles (``tile`` pixels, ``cols`` x ``rows`` of them), each its own
    stream, transcoded; its planes whole, as the tiles decode into them."""

    def __init__(
        self,
        subsampling: int,
        tile: int,
        cols: int,
        rows: int,
        sets: int = 1,
        own: bool = False,
        restart: int = 0,
    ) -> None:
        pixels = texture(tile * cols, tile * rows)
        options = {"restart_marker_blocks": restart} if restart else {}
        self.streams = [
            stream_of(
                pixels[y * tile : (y + 1) * tile, x * tile : (x + 1) * tile], subsampling, **options
            )
            for y in range(rows)
            for x in range(cols)
        ]
        p, _ = decoded(self.streams[0])
        self.p, self.cols, self.rows = p, cols, rows
        self.tile_mcus = p.mcus
        mx, my = p.mcus
        self.planes = tuple(
            np.zeros((my * v * rows, mx * h * cols, 64), np.int16) for h, v in p.sampling
        )
        for i, stream in enumerate(self.streams):
            _jpegdct.decode(stream, self.view(i))
        self.sets = tuple(tables_for(self.planes, self.whole, skew=s) for s in range(sets))
        if own:  # the tiles' own tables (Pillow's: the same each tile): copied, not coded
            self.sets = (own_tables(p),)

    @property
    def whole(self) -> Parsed:
        whole = Parsed(comps=self.p.comps)
        mcu_w, mcu_h = 8 * self.hmax, 8 * self.vmax
        whole.width = self.tile_mcus[0] * self.cols * mcu_w
        whole.height = self.tile_mcus[1] * self.rows * mcu_h
        return whole

    @property
    def hmax(self) -> int:
        return max(h for h, _ in self.p.sampling)

    @property
    def vmax(self) -> int:
        return max(v for _, v in self.p.sampling)

    def view(self, i: int, planes: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, ...]:
        y, x = divmod(i, self.cols)
        mx, my = self.tile_mcus
        return tuple(
            q[y * my * v : (y + 1) * my * v, x * mx * h : (x + 1) * mx * h]
            for q, (h, v) in zip(planes or self.planes, self.p.sampling, strict=True)
        )

    def stores(self, choice: bytes | None = None, out_mcus: tuple[int, int] = (1, 1)) -> list:
        out = []
        for i, stream in enumerate(self.streams):
            y, x = divmod(i, self.cols)
            pick = None
            if choice is not None:
                n_x = -(-self.cols * self.tile_mcus[0] // out_mcus[0])
                n_y = -(-self.rows * self.tile_mcus[1] // out_mcus[1])
                first = (x * self.tile_mcus[0], y * self.tile_mcus[1])
                pick = (choice, n_x, n_y, *first, *out_mcus)
            scratch = tuple(np.zeros_like(q) for q in self.view(i))
            _, bits, records = _jpegdct.transcode(stream, scratch, self.sets, pick)
            out.append((bits, records))
        return out

    def assembled(self, stores: list, origin: tuple[int, int], mcus: tuple[int, int],
                  keep: tuple[int, int], tables: Tables) -> bytes:  # fmt: skip
        """The output tile of ``mcus`` MCUs at MCU ``origin``: the source tiles it spans."""
        mx, my = self.tile_mcus
        c0, r0 = origin[0] // mx, origin[1] // my
        c1, r1 = (origin[0] + mcus[0] - 1) // mx, (origin[1] + mcus[1] - 1) // my
        grid = tuple(
            stores[r * self.cols + c] if r < self.rows and c < self.cols else None
            for r in range(r0, r1 + 1)
            for c in range(c0, c1 + 1)
        )
        at = (origin[0] - c0 * mx, origin[1] - r0 * my)
        return _jpegdct.assemble(grid, (c1 - c0 + 1, r1 - r0 + 1), at, self.tile_mcus,
                                 self.p.sampling, mcus, keep, tables)  # fmt: skip

    def encoded(self, origin: tuple[int, int], mcus: tuple[int, int], keep: tuple[int, int],
                tables: Tables) -> bytes:  # fmt: skip
        """encode of the same MCUs of the planes, those from ``keep`` on (or past the level)
        zeroed."""
        blocks = []
        for q, (h, v) in zip(self.planes, self.p.sampling, strict=True):
            part = np.zeros((mcus[1] * v, mcus[0] * h, 64), np.int16)
            src = q[
                origin[1] * v : (origin[1] + mcus[1]) * v, origin[0] * h : (origin[0] + mcus[0]) * h
            ]
            part[: src.shape[0], : src.shape[1]] = src
            part[keep[1] * v :] = 0
            part[:, keep[0] * h :] = 0
            blocks.append(part)
        return _jpegdct.encode(tuple(blocks), self.p.sampling, mcus, tables)


@pytest.mark.parametrize("own", [False, True], ids=["coded", "copied"])
@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("restart", [0, 3])
def test_assemble_is_encode_anywhere(subsampling: int, own: bool, restart: int) -> None:
    """Output tiles at every MCU offset within a source tile, spanning up to 3 x 3 of them,
    over the level's edge (past it: blank blocks), with blocks from ``keep`` on blank; from
    stores of AC symbols coded again, or of the source's own (copied: runs of blocks whose DC
    codes are the output's copied whole, broken at restart intervals)."""
    m = Mosaic(subsampling, 32, 3, 3, own=own, restart=restart)
    stores = m.stores()
    tables = m.sets[0]
    mx, my = m.tile_mcus
    total = (3 * mx, 3 * my)
    for oy in range(my):
        for ox in range(mx):
            for mcus in ((mx, my), (mx + 1, 2 * my + 1), (2 * mx + 1, my - 1 or 1)):
                for keep in (mcus, (1, 1), (mcus[0] - 1 or 1, mcus[1])):
                    origin = (ox, oy)
                    if origin[0] + mcus[0] > total[0] or origin[1] + mcus[1] > total[1]:
                        continue
                    expected = m.encoded(origin, mcus, keep, tables)
                    assert m.assembled(stores, origin, mcus, keep, tables) == expected, (
                        origin, mcus, keep,
                    )  # fmt: skip
    # past the level's last row and column: stores None, blocks blank
    edge = (2 * mx + 1, 2 * my + 1)
    expected = m.encoded(edge, (mx, my), (mx, my), tables)
    assert m.assembled(stores, edge, (mx, my), (mx, my), tables) == expected


@pytest.mark.parametrize("subsampling", [0, 2])
def test_two_sets_each_block_as_its_output_tile_chooses(subsampling: int) -> None:
    """With a choice grid, each block is coded with the set of the output tile it falls in:
    every output tile assembled with its set is encode's with that set."""
    m = Mosaic(subsampling, 32, 3, 2, sets=2)
    assert m.sets[0] != m.sets[1]
    mx, my = m.tile_mcus
    out = (mx + 1, my - 1 or 1)  # output tiles not aligned on the source's
    n_x, n_y = -(-3 * mx // out[0]), -(-2 * my // out[1])
    choice = bytes((x + 2 * y) % 2 for y in range(n_y) for x in range(n_x))
    stores = m.stores(choice, out)
    for ty in range(n_y):
        for tx in range(n_x):
            origin = (tx * out[0], ty * out[1])
            mcus = (min(out[0], 3 * mx - origin[0]), min(out[1], 2 * my - origin[1]))
            tables = m.sets[choice[ty * n_x + tx]]
            expected = m.encoded(origin, mcus, mcus, tables)
            assert m.assembled(stores, origin, mcus, mcus, tables) == expected, (tx, ty)


@pytest.mark.parametrize("subsampling", [-1, 0, 2])  # grey, 4:4:4, 4:2:0
@pytest.mark.parametrize("own", [True, False])  # copied, or coded again
def test_transcode_then_half_in_one_call(subsampling: int, own: bool) -> None:
    """``half``: level 1 made from the planes in the same call, as ``half`` makes it after
    ``transcode`` (pixels, counts added to, an odd edge paired with itself); the store alike."""
    stream = stream_of(texture(64, 48), subsampling)
    p, planes = decoded(stream)
    tables = own_tables(p) if own else tables_for(planes, p)
    quant = np.arange(1, 1 + 64 * len(planes), dtype="<u2").clip(1, 9).tobytes()
    shape = (24, 32, len(planes))
    edge = (63, 47) if subsampling != 2 else (64, 48)
    outs = [np.zeros(shape, np.uint8) for _ in range(2)]
    counts = [np.full((256, len(planes)), 3, np.int64) for _ in range(2)]
    separate = _jpegdct.transcode(stream, p.mcu_planes(), (tables,))
    _jpegdct.half(planes, p.sampling, quant, False, outs[0], counts[0], edge)
    half = (p.sampling, quant, False, outs[1], counts[1], edge)
    fused = _jpegdct.transcode(stream, p.mcu_planes(), (tables,), None, half)
    assert fused == separate
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(counts[1], counts[0])
    with pytest.raises(ValueError, match="half"):
        _jpegdct.transcode(stream, p.mcu_planes(), (tables,), None, (p.sampling, quant))
    with pytest.raises(ValueError, match="out"):  # half's own checks, before any decoding
        bad = (p.sampling, quant, False, np.zeros((8, 8, 2), np.uint8), None, None)
        _jpegdct.transcode(stream, p.mcu_planes(), (tables,), None, bad)


@pytest.mark.parametrize("restart", [0, 2])
def test_copied_blocks_whose_dc_codes_are_the_outputs_are_whole(restart: int) -> None:
    """Copied with the stream's own tables, each block but its component's first of a restart
    interval is flagged whole (TB_WHOLE, bit 15 of its AC length); coded again, none is."""
    options = {"restart_marker_blocks": restart} if restart else {}
    stream = stream_of(texture(64, 48), 2, **options)  # 4:2:0: 6 blocks an MCU
    p, planes = decoded(stream)
    _, _, records = _jpegdct.transcode(stream, p.mcu_planes(), (own_tables(p),))
    flags = np.frombuffer(records, np.dtype([("dc", "<i2"), ("len", "<u2"), ("end", "<u4")]))
    whole = (flags["len"] & 0x8000).astype(bool).reshape(-1, 6)  # (MCU, slot)
    starts = np.zeros(len(whole), bool)
    starts[:: restart or len(whole)] = True  # each interval's first MCU
    assert not whole[starts][:, [0, 4, 5]].any()  # Y's first block, Cb's, Cr's
    assert whole[starts][:, 1:4].all() and whole[~starts].all()
    _, _, coded = _jpegdct.transcode(stream, p.mcu_planes(), (tables_for(planes, p),))
    assert not (np.frombuffer(coded, "<u2")[1::4] & 0x8000).any()


def test_transcode_bad_input() -> None:
    stream = stream_of(texture(32, 32), 2)
    p, planes = decoded(stream)
    tables = tables_for(planes, p)
    with pytest.raises(ValueError, match="sets"):
        _jpegdct.transcode(stream, p.mcu_planes(), ())
    with pytest.raises(ValueError, match="choice"):
        _jpegdct.transcode(stream, p.mcu_planes(), (tables,), (b"\x00", 2, 1, 0, 0, 2, 2))
    with pytest.raises(ValueError, match="choice: set 1 of 1"):
        _jpegdct.transcode(stream, p.mcu_planes(), (tables,), (b"\x01", 1, 1, 0, 0, 2, 2))
    no_ac = tuple((dc, dcs, bytes(1024), bytes(256)) for dc, dcs, _, _ in tables)
    with pytest.raises(ValueError, match="has no code"):
        _jpegdct.transcode(stream, p.mcu_planes(), (no_ac,))
    with pytest.raises(ValueError, match="truncated"):
        _jpegdct.transcode(stream[: len(stream) // 2], p.mcu_planes(), (tables,))
    with pytest.raises(ValueError):
        _jpegdct.count(stream, np.zeros((2, 2, 256), np.int64))  # 3 components


def test_assemble_bad_input() -> None:
    stream = stream_of(texture(32, 32), 2)
    p, planes = decoded(stream)
    tables = tables_for(planes, p)
    store = _jpegdct.transcode(stream, p.mcu_planes(), (tables,))[1:]
    args = ((store,), (1, 1), (0, 0), p.mcus, p.sampling, p.mcus, p.mcus, tables)
    assert _jpegdct.assemble(*args) == _jpegdct.encode(planes, p.sampling, p.mcus, tables)
    with pytest.raises(ValueError, match="does not match"):
        _jpegdct.assemble(((store[0], store[1][:-8]),), *args[1:])
    with pytest.raises(ValueError, match="does not match"):
        _jpegdct.assemble(((store[0][:8], store[1]),), *args[1:])
    head = b"\xff\xd8HEAD"  # given, the tile is head, the scan, EOI
    assert _jpegdct.assemble(*args, 0, head) == head + _jpegdct.assemble(*args) + b"\xff\xd9"
    with pytest.raises(TypeError):
        _jpegdct.assemble(*args, 0, "text")
    bits, records = store
    dc, _, end = struct.unpack_from("<hHI", records)  # a record: DC, AC bits, where they end
    longer = struct.pack("<hHI", dc, end + 1, end) + records[8:]  # starting before the store
    with pytest.raises(ValueError, match="out of range"):
        _jpegdct.assemble(((bits, longer),), *args[1:])
    beyond = struct.pack("<hHI", dc, 0, 8 * len(bits)) + records[8:]  # ending past it
    with pytest.raises(ValueError, match="out of range"):
        _jpegdct.assemble(((bits, beyond),), *args[1:])
    rng = np.random.default_rng(7)  # records flagged whole (their spans) anywhere: never a crash
    n = len(records) // 8
    for _ in range(200):
        forged = np.frombuffer(records, np.dtype([("dc", "<i2"), ("len", "<u2"), ("end", "<u4")]))
        forged = forged.copy()
        forged["len"] |= 0x8000
        picked = rng.choice(n, 3)
        forged["end"][picked] = rng.integers(0, 16 * len(bits), 3)
        forged["dc"][rng.choice(n, 3)] = rng.integers(-2048, 2048, 3)
        with contextlib.suppress(ValueError):
            _jpegdct.assemble(((bits, forged.tobytes()),), *args[1:])
    with pytest.raises(ValueError, match="bad grid"):
        _jpegdct.assemble((store, store), *args[1:])
    with pytest.raises(ValueError, match="bad grid"):
        _jpegdct.assemble(args[0], (1, 1), (1, 0), *args[3:])  # past the grid
    with pytest.raises(ValueError, match="pairs or None"):
        _jpegdct.assemble((b"x",), *args[1:])
    no_dc = tuple((bytes(1024), bytes(256), ac, acs) for _, _, ac, acs in tables)
    with pytest.raises(ValueError, match="has no code"):
        _jpegdct.assemble(*args[:-1], no_dc)


def test_prepared_tables_as_the_tuples() -> None:
    """``prepare``'s tables code as the tuples do, also for more source tables than it keeps
    built (each tile its own Huffman tables: optimized ones, 6 different)."""
    pixels = texture(96, 32)
    streams = []
    for k in range(6):
        out = io.BytesIO()
        tile = np.ascontiguousarray(np.roll(pixels, 7 * k, axis=1)[:, :32])
        Image.fromarray(tile).save(out, "JPEG", quality=60 + 5 * k, optimize=True)
        streams.append(out.getvalue())
    p, planes = decoded(streams[0])
    sets = (tables_for(planes, p), tables_for(planes, p, skew=1))
    prepared = _jpegdct.prepare(sets)
    for stream in streams:
        p, planes = decoded(stream)
        for choice in (None, (b"\x01", 1, 1, 0, 0, 8, 8)):
            by_tuple = _jpegdct.transcode(stream, p.mcu_planes(), sets, choice)
            assert _jpegdct.transcode(stream, p.mcu_planes(), prepared, choice) == by_tuple
            which = 0 if choice is None else 1
            args = (((by_tuple[1], by_tuple[2]),), (1, 1), (0, 0), p.mcus, p.sampling, p.mcus,
                    p.mcus)  # fmt: skip
            scan = _jpegdct.assemble(*args, prepared, which)
            assert scan == _jpegdct.assemble(*args, sets[which])
            assert scan == _jpegdct.encode(planes, p.sampling, p.mcus, sets[which])
    with pytest.raises(ValueError, match="which: set 2 of 2"):
        _jpegdct.assemble(*args, prepared, 2)
    grey = decoded(stream_of(texture(32, 32), -1))[1]
    with pytest.raises(ValueError, match="tables of 3 components for 1"):
        _jpegdct.transcode(stream_of(texture(32, 32), -1), tuple(np.zeros_like(g) for g in grey),
                           prepared)  # fmt: skip
    with pytest.raises(ValueError, match="sets"):
        _jpegdct.prepare(())


def test_random_byte_flips() -> None:
    """Thousands of corrupted streams transcoded and counted: a store (which assembles) or a
    ValueError, never a crash."""
    stream = stream_of(texture(40, 24), 2, restart_marker_blocks=1)
    p, planes = decoded(stream)
    for tables in (_jpegdct.prepare((tables_for(planes, p),)), _jpegdct.prepare((own_tables(p),))):
        flipped(stream, p, planes, tables)


def flipped(stream: bytes, p: Parsed, planes: tuple[np.ndarray, ...], tables: object) -> None:
    """Corrupted copies of ``stream`` transcoded with ``tables`` (coded again, or copied)."""
    failed = 0
    for bad in corrupted(stream, 2000, seed=9):
        with contextlib.suppress(ValueError):
            _jpegdct.count(bad, np.zeros((3, 2, 256), np.int64))
        try:
            out = tuple(np.zeros((q.shape[0] + 1, q.shape[1] + 1, 64), np.int16) for q in planes)
            _, bits, records = _jpegdct.transcode(bad, out, tables)
            mcus = (len(records) // 8 // sum(h * v for h, v in p.sampling), 1)  # one MCU row
            _jpegdct.assemble(((bits, records),), (1, 1), (0, 0), mcus, p.sampling, mcus, mcus,
                              tables)  # fmt: skip
        except ValueError:
            failed += 1
    assert 0 < failed < 2000
