"""Optimal JPEG Huffman tables: valid (prefix-free, <= 16 bits, no all-ones code), every symbol
that can occur coded, and within a small margin of the unconstrained Huffman code."""

from __future__ import annotations

import random
import struct

import pytest

from cytotile.importer import huffman as hf


def unconstrained_cost(counts: list[int]) -> int:
    """Bits of the unconstrained Huffman code of ``counts`` (merging the two least, by brute
    force over a sorted list: independent of the module's heap)."""
    nodes = sorted(c for c in counts if c > 0)
    cost = 0
    while len(nodes) > 1:
        a, b = nodes[0], nodes[1]
        cost += a + b
        nodes = sorted([*nodes[2:], a + b])
    return cost


def check_table(table: hf.Table, symbols: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    codes = table.codes()
    assert set(codes) == set(symbols)  # every symbol that can occur, nothing else
    assert len(table.bits) == 16 and sum(table.bits) == len(table.values) == len(symbols)
    words = [format(code, f"0{n}b") for code, n in codes.values()]
    assert all(1 <= len(w) <= 16 for w in words)
    assert all(set(w) != {"1"} for w in words)  # the all-ones code of a length is reserved
    for a in words:  # prefix-free
        for b in words:
            assert a == b or not b.startswith(a)
    assert sum(2.0 ** -len(w) for w in words) < 1.0  # Kraft, with room for the reserved code
    return codes


@pytest.mark.parametrize("seed", range(4))
def test_ac_tables_from_skewed_counts(seed: int) -> None:
    rng = random.Random(seed)
    counts = [0] * 256
    for s in hf.AC_SYMBOLS:  # a geometric spread, many symbols never seen
        counts[s] = int(10 ** rng.uniform(0, 6)) if rng.random() < 0.6 else 0
    table = hf.optimal(counts, hf.AC_SYMBOLS)
    codes = check_table(table, hf.AC_SYMBOLS)
    smoothed = [counts[s] + 1 for s in hf.AC_SYMBOLS]
    cost = sum((counts[s] + 1) * codes[s][1] for s in hf.AC_SYMBOLS)
    assert cost <= unconstrained_cost(smoothed) * 1.01 + 64


def test_lengths_are_limited_to_16_bits() -> None:
    """Fibonacci counts make an unconstrained code 20+ bits deep: K.3 brings it to 16."""
    counts = [0] * 256
    fib = [1, 1]
    while len(fib) < 30:
        fib.append(fib[-1] + fib[-2])
    for s, c in zip(hf.AC_SYMBOLS, reversed(fib), strict=False):
        counts[s] = c
    assert max(hf.code_lengths([counts[s] + 1 for s in hf.AC_SYMBOLS])) > 16
    table = hf.optimal(counts, hf.AC_SYMBOLS)
    codes = check_table(table, hf.AC_SYMBOLS)
    assert max(n for _, n in codes.values()) == 16
    cost = sum((counts[s] + 1) * codes[s][1] for s in hf.AC_SYMBOLS)
    assert cost <= unconstrained_cost([counts[s] + 1 for s in hf.AC_SYMBOLS]) * 1.01


def test_dc_table_and_frequent_symbols_get_short_codes() -> None:
    counts = [0] * 256
    counts[:12] = [500, 4000, 9000, 3000, 800, 100, 10, 0, 0, 0, 0, 0]
    table = hf.optimal(counts, hf.DC_SYMBOLS)
    codes = check_table(table, hf.DC_SYMBOLS)
    lengths = table.lengths()
    assert lengths[2] == min(lengths.values())
    assert lengths[11] >= lengths[6] >= lengths[2]
    assert {s: n for s, (_, n) in codes.items()} == lengths


def test_no_counts_still_codes_every_symbol() -> None:
    check_table(hf.optimal([0] * 256, hf.DC_SYMBOLS), hf.DC_SYMBOLS)
    check_table(hf.optimal([0] * 256, hf.AC_SYMBOLS), hf.AC_SYMBOLS)


def test_arrays_and_dht_segment() -> None:
    counts = list(range(256))
    dc, ac = hf.optimal(counts, hf.DC_SYMBOLS), hf.optimal(counts, hf.AC_SYMBOLS)
    codes, sizes = ac.arrays()
    assert len(codes) == 1024 and len(sizes) == 256
    as_ints = struct.unpack("<256I", codes)
    for s in range(256):
        expected = ac.codes().get(s, (0, 0))
        assert (as_ints[s], sizes[s]) == expected
    segment = hf.dht([(hf.DC, 0, dc), (hf.AC, 1, ac)])
    assert segment[:2] == b"\xff\xc4"
    assert struct.unpack(">H", segment[2:4])[0] == len(segment) - 2
    assert segment[4] == 0x00 and segment[5:21] == bytes(dc.bits)
    pos = 21 + len(dc.values)
    assert segment[21:pos] == dc.values
    assert segment[pos] == 0x11 and segment[pos + 1 : pos + 17] == bytes(ac.bits)
    assert segment[pos + 17 :] == ac.values
