"""Optimal JPEG Huffman tables from symbol counts (ITU T.81 Annex K.2, canonical codes Annex C).

The DCT re-tiler codes a whole level with one set of tables (luminance, chrominance), built from
the symbols counted over a sample of the level (:func:`cytotile.importer._jpegdct.gather`).
Every symbol that can occur in a baseline scan gets a code (a pseudo-count of one each), so a
tile outside the sample never needs a symbol the tables lack. Code lengths are limited to 16
bits and the all-ones code of each length is never assigned, as the standard requires.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass

MAX_LENGTH = 16
#: DC symbols: the magnitude category of the difference, 0..11 (8-bit samples)
DC_SYMBOLS = tuple(range(12))
#: AC symbols: run << 4 | size (size 1..10), EOB (0x00) and ZRL (0xF0)
AC_SYMBOLS = (0x00, 0xF0, *(run << 4 | size for run in range(16) for size in range(1, 11)))
DC, AC = 0, 1  # table classes (Tc of DHT)


@dataclass(frozen=True)
class Table:
    """A Huffman table as DHT stores it: BITS (codes of each length 1..16) and HUFFVAL."""

    bits: tuple[int, ...]
    values: bytes

    def lengths(self) -> dict[int, int]:
        """Code length of each symbol."""
        sizes = (n + 1 for n, count in enumerate(self.bits) for _ in range(count))
        return dict(zip(self.values, sizes, strict=True))

    def codes(self) -> dict[int, tuple[int, int]]:
        """(code, length) of each symbol: the canonical codes of Annex C (C.1, C.2)."""
        out, code, k = {}, 0, 0
        for length, count in enumerate(self.bits, start=1):
            for _ in range(count):
                out[self.values[k]] = (code, length)
                code, k = code + 1, k + 1
            code <<= 1
        return out

    def arrays(self) -> tuple[bytes, bytes]:
        """(codes, sizes) indexed by symbol, as the codec's ``encode`` takes them: 256 codes as
        little-endian uint32, 256 sizes as uint8 (0: the symbol has no code)."""
        codes, sizes = [0] * 256, [0] * 256
        for symbol, (code, length) in self.codes().items():
            codes[symbol], sizes[symbol] = code, length
        return struct.pack("<256I", *codes), bytes(sizes)


def code_lengths(counts: Sequence[int]) -> list[int]:
    """Unconstrained Huffman code lengths of ``counts`` (0 for a symbol counted 0; 1 for a lone
    symbol). Ties merge the larger symbol first (Annex K.1's rule)."""
    lengths = [0] * len(counts)
    heap = [(c, -s, [s]) for s, c in enumerate(counts) if c > 0]
    if len(heap) == 1:
        lengths[heap[0][2][0]] = 1
    heapq.heapify(heap)
    while len(heap) > 1:
        c1, t1, s1 = heapq.heappop(heap)
        c2, t2, s2 = heapq.heappop(heap)
        for s in itertools.chain(s1, s2):
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, min(t1, t2), s1 + s2))
    return lengths


def limit(lengths: Sequence[int]) -> list[int]:
    """BITS[0..16] (index = length) of ``lengths`` after Annex K.3's adjustment to 16 bits at
    most and the removal of one code of the longest length (the reserved all-ones code)."""
    top = max(lengths)
    bits = [0] * (max(top, MAX_LENGTH) + 1)
    for n in lengths:
        if n:
            bits[n] += 1
    for i in range(top, MAX_LENGTH, -1):  # K.3: move pairs of long codes up the tree
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
    i = MAX_LENGTH
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1
    return bits[: MAX_LENGTH + 1]


def optimal(counts: Sequence[int], symbols: Sequence[int]) -> Table:
    """The optimal table (Annex K.2) for ``counts`` (by symbol, 256 entries), every symbol of
    ``symbols`` given a code (its count plus one)."""
    freq = [0] * 257
    for s in symbols:
        freq[s] = int(counts[s]) + 1
    freq[256] = 1  # reserved: its code (the longest, all ones) is never assigned
    lengths = code_lengths(freq)
    bits = limit(lengths)
    order = sorted((n, s) for s, n in enumerate(lengths[:256]) if n)
    return Table(tuple(bits[1:]), bytes(s for _, s in order))


def dht(tables: Sequence[tuple[int, int, Table]]) -> bytes:
    """One DHT segment holding ``(class, id, table)`` each (class :data:`DC` or :data:`AC`)."""
    body = b"".join(bytes([tc << 4 | th, *t.bits]) + t.values for tc, th, t in tables)
    return b"\xff\xc4" + struct.pack(">H", len(body) + 2) + body
