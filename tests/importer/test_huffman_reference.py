"""The fast Huffman tables (queues of int nodes, lengths counted by depth, K.3 moves in bulk)
pinned to the plain procedures of ITU T.81 Annex K, written here as the standard has them: the
same code lengths, the same BITS and HUFFVAL, the same codes; and a level's tables
(:class:`~cytotile.importer.dctcoding.Tables`) the same as the plain ones, one set or two."""

from __future__ import annotations

import heapq
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from cytotile.importer import dctcoding
from cytotile.importer import huffman as hf
from cytotile.importer import jpegmarkers as jm
from cytotile.importer.retile import JpegLevel
from tests.importer.jpegdct_builders import plain_limit


def plain_code_lengths(freq: list[int]) -> list[int]:
    """Annex K.1 with a heap: merge the two least (among equal counts the larger symbol
    first; a merged node ranks as its largest symbol), each symbol's length one more per merge
    above it."""
    lengths = [0] * len(freq)
    heap = [(c, -s, [s]) for s, c in enumerate(freq) if c > 0]
    if len(heap) == 1:
        lengths[heap[0][2][0]] = 1
    heapq.heapify(heap)
    while len(heap) > 1:
        c1, t1, s1 = heapq.heappop(heap)
        c2, t2, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, min(t1, t2), s1 + s2))
    return lengths


def plain_optimal(counts: list[int], symbols: tuple[int, ...]) -> tuple[tuple[int, ...], bytes]:
    """Annex K.2: every symbol counted once more, a reserved 257th counted once; HUFFVAL by
    code length, then symbol."""
    freq = [0] * 257
    for s in symbols:
        freq[s] = counts[s] + 1
    freq[256] = 1
    lengths = plain_code_lengths(freq)
    bits = plain_limit(lengths)
    order = sorted((n, s) for s, n in enumerate(lengths[:256]) if n)
    return tuple(bits[1:]), bytes(s for _, s in order)


def plain_codes(bits: tuple[int, ...], values: bytes) -> dict[int, tuple[int, int]]:
    """Annex C (Figures C.1, C.2): canonical codes."""
    out, code, k = {}, 0, 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            out[values[k]] = (code, length)
            code, k = code + 1, k + 1
        code <<= 1
    return out


def random_counts(rng: random.Random, symbols: tuple[int, ...], kind: str) -> list[int]:
    counts = [0] * 256
    for s in symbols:
        if kind == "sparse":  # a small sample: most symbols never seen
            counts[s] = rng.choice([0, 0, 0, 0, 1, 2, 3, 5])
        elif kind == "skewed":  # geometric, over many decades
            counts[s] = int(10 ** rng.uniform(0, rng.uniform(1, 8))) if rng.random() < 0.6 else 0
        elif kind == "ties":  # many equal counts: the tie rule decides
            counts[s] = rng.choice([0, 1, 2, 4, 8, 16, 100])
        elif kind == "fibonacci":  # a 25+ bit deep tree: K.3 has much to move
            counts[s] = 0
    if kind == "fibonacci":
        fib = [1, 1]
        while len(fib) < len(symbols):
            fib.append(fib[-1] + fib[-2] + rng.randint(0, 2))
        for s, c in zip(rng.sample(symbols, len(symbols)), fib, strict=True):
            counts[s] = c
    return counts


KINDS = ("sparse", "skewed", "ties", "fibonacci")


@pytest.mark.parametrize("kind", KINDS)
def test_optimal_is_the_plain_k2(kind: str) -> None:
    rng = random.Random(kind)
    deep = 0
    for _ in range(60):
        symbols = rng.choice(
            [hf.AC_SYMBOLS, hf.DC_SYMBOLS, tuple(rng.sample(range(256), rng.randint(1, 200)))]
        )
        counts = random_counts(rng, symbols, kind)
        bits, values = plain_optimal(counts, symbols)
        given = np.array(counts, np.int64) if max(counts) < 2**62 else counts
        table = hf.optimal(given, symbols)
        assert (table.bits, table.values) == (bits, values)
        codes = plain_codes(bits, values)
        assert table.codes() == codes
        assert table.lengths() == {s: n for s, (_, n) in codes.items()}
        packed = [codes.get(s, (0, 0)) for s in range(256)]
        assert table.arrays() == (
            struct.pack("<256I", *(c for c, _ in packed)),
            bytes(n for _, n in packed),
        )
        freq = [counts[s] + 1 if s in symbols else 0 for s in range(256)] + [1]
        deep += max(plain_code_lengths(freq)) > 16
    if kind in ("skewed", "fibonacci"):
        assert deep > 10  # the 16-bit limit was exercised


@pytest.mark.parametrize("kind", KINDS)
def test_code_lengths_and_limit_are_the_plain_ones(kind: str) -> None:
    rng = random.Random(f"lengths-{kind}")
    for _ in range(60):
        counts = random_counts(rng, tuple(range(rng.randint(1, 256))), kind)
        lengths = plain_code_lengths(counts)
        assert hf.code_lengths(counts) == lengths
        if any(lengths):
            assert hf.limit(lengths) == plain_limit(lengths)


def test_edge_cases_are_the_plain_ones() -> None:
    for counts in ([0] * 8, [7], [0, 0, 5], [3, 3], [2**70, 1, 2**40, 0, 9]):
        assert hf.code_lengths(counts) == plain_code_lengths(counts)
    for symbols in ((), (5,), (0, 255), hf.DC_SYMBOLS):
        counts = [0] * 256
        table = hf.optimal(counts, symbols)
        assert (table.bits, table.values) == plain_optimal(counts, symbols)


def plain_tables(level: JpegLevel, counts: np.ndarray, picks: list[int]) -> list[list[tuple]]:
    """The level's table sets as the plain procedures choose them (one set; two, one optimal
    for the sampled tiles up to the median size and one for the larger, when they code the
    sample MIN_GAIN smaller and the components share one group)."""
    group = dctcoding.groups(level.frame)
    sizes = [level.byte_counts[k] for k in picks]
    median = float(np.median(sizes))
    dense = np.array(sizes) > median

    def tables(part: np.ndarray) -> list[tuple]:
        out = []
        for g in range(max(group) + 1):
            mine = part[[k for k, gk in enumerate(group) if gk == g]].sum(axis=0).tolist()
            out.append(
                (plain_optimal(mine[0], hf.DC_SYMBOLS), plain_optimal(mine[1], hf.AC_SYMBOLS))
            )
        return out

    def bits(sets: list[tuple], part: np.ndarray) -> int:
        total = 0
        for k, g in enumerate(group):
            for cls in (0, 1):
                lengths = {s: n for s, (_, n) in plain_codes(*sets[g][cls]).items()}
                total += sum(int(part[k, cls, s]) * n for s, n in lengths.items())
        return total

    one = tables(counts.sum(axis=0))
    if not dense.any() or dense.all() or max(group) > 0:
        return [one]
    two = [tables(counts[dense == d].sum(axis=0)) for d in (False, True)]
    split = sum(bits(two[d], counts[dense == d].sum(axis=0)) for d in (0, 1))
    return two if split < (1 - dctcoding.MIN_GAIN) * bits(one, counts.sum(axis=0)) else [one]


@pytest.mark.parametrize("components", [1, 3, 33])
def test_level_tables_are_the_plain_ones(components: int) -> None:
    """Counts of sampled tiles, sparse and dense, one group (grey; R, G, B quantized alike) or
    two (YCbCr, ``33``): the sets, their DHT and encoder arrays are the plain procedures'."""
    rng = np.random.default_rng(components)
    comps = {
        1: ((1, 1, 1, 0),),
        3: ((0, 1, 1, 0), (1, 1, 1, 0), (2, 1, 1, 0)),
        33: ((1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)),
    }[components]
    frame = jm.Frame(0xC0, 240, 240, comps)
    chosen = set()
    for trial in range(12):
        n_tiles = 40
        sizes = tuple(int(v) for v in rng.integers(1000, 30000, n_tiles))
        level = JpegLevel(
            Path("x"), 1600, 1200, 240, 240, tuple(range(n_tiles)), sizes, None, 2, frame, {}
        )
        picks = sorted(rng.choice(n_tiles, 16, replace=False).tolist())
        shape = (len(comps), 2, 256)
        sparse, dense = rng.pareto(1.2, shape) * 20, rng.pareto(1.2, shape) * 60
        if trial % 2:  # the tiles alike: one set codes them as well
            dense = sparse
        median = np.median([sizes[k] for k in picks])
        profiles = np.array([dense if sizes[k] > median else sparse for k in picks])
        counts = rng.poisson(profiles).astype(np.int64)
        counts[:, :, 0, 12:] = 0  # DC symbols are 0..11
        ours = dctcoding.Tables(level, counts, picks)
        plain = plain_tables(level, counts, picks)
        assert [[(t.bits, t.values) for pair in s for t in pair] for s in ours.sets] == [
            [t for pair in s for t in pair] for s in plain
        ]
        width = len(plain[0])
        segments = [
            bytes([cls << 4 | (k * width + g), *plain[k][g][cls][0]]) + plain[k][g][cls][1]
            for k in range(len(plain))
            for g in range(width)
            for cls in (0, 1)
        ]
        body = b"".join(segments)
        assert ours.dht == b"\xff\xc4" + struct.pack(">H", len(body) + 2) + body
        group = dctcoding.groups(frame)
        for k, tables in enumerate(plain):
            for arrays, g in zip(ours.arrays[k], group, strict=True):
                for cls in (0, 1):
                    codes = plain_codes(*tables[g][cls])
                    packed = [codes.get(s, (0, 0)) for s in range(256)]
                    assert arrays[2 * cls] == struct.pack("<256I", *(c for c, _ in packed))
                    assert arrays[2 * cls + 1] == bytes(n for _, n in packed)
        chosen.add(len(plain))
    assert chosen == ({1} if components == 33 else {1, 2})  # both outcomes were compared
