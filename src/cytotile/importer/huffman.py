"""Optimal JPEG Huffman tables from symbol counts (ITU T.81 Annex K.2, canonical codes Annex C).

The DCT re-tiler codes a whole level with one set of tables (luminance, chrominance), built from
the symbols counted over a sample of the level (:func:`cytotile.importer._jpegdct.gather`).
Every symbol that can occur in a baseline scan gets a code (a pseudo-count of one each), so a
tile outside the sample never needs a symbol the tables lack. Code lengths are limited to 16
bits and the all-ones code of each length is never assigned, as the standard requires.

The tables are chosen while the re-tiling threads want the GIL, in few Python steps: a tree
node is one int (``count << shift | tag``: one comparison orders it), merged from two sorted
queues (leaves, merged nodes) rather than a heap, the code lengths counted by depth from the
merged nodes alone, and Figure K.3's moves counted in bulk (:func:`_split_deepest`): 4-5x
faster than the plain procedures, which give the same lengths and tables
(``tests/importer/test_huffman_reference.py`` holds them and compares).
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

MAX_LENGTH = 16
#: DC symbols: the magnitude category of the difference, 0..11 (8-bit samples)
DC_SYMBOLS = tuple(range(12))
#: AC symbols: run << 4 | size (size 1..10), EOB (0x00) and ZRL (0xF0)
AC_SYMBOLS = (0x00, 0xF0, *(run << 4 | size for run in range(16) for size in range(1, 11)))
DC, AC = 0, 1  # table classes (Tc of DHT)
#: Annex K.2's extra symbol, counted once: its code (the longest, all ones) is never assigned
RESERVED = 256
_BYTES = bytes(range(256))
_LENGTH = [bytes([n]) for n in range(MAX_LENGTH + 1)]


@dataclass(frozen=True)
class Table:
    """A Huffman table as DHT stores it: BITS (codes of each length 1..16) and HUFFVAL."""

    bits: tuple[int, ...]
    values: bytes

    def lengths(self) -> dict[int, int]:
        """Code length of each symbol."""
        return {s: self.sizes[s] for s in self.values}

    def codes(self) -> dict[int, tuple[int, int]]:
        """(code, length) of each symbol: the canonical codes of Annex C (C.1, C.2)."""
        codes = self._codes()
        return {s: (codes[s], self.sizes[s]) for s in self.values}

    def arrays(self) -> tuple[bytes, bytes]:
        """(codes, sizes) indexed by symbol, as the codec's ``encode`` takes them: 256 codes as
        little-endian uint32, 256 sizes as uint8 (0: the symbol has no code)."""
        arrays: tuple[bytes, bytes] | None = self.__dict__.get("_arrays")
        if arrays is None:  # once (a level's set gives each of its components the same)
            arrays = self.__dict__["_arrays"] = (struct.pack("<256I", *self._codes()), self.sizes)
        return arrays

    @property
    def sizes(self) -> bytes:
        """The code length of each symbol 0..255 (0: no code)."""
        sizes: bytes | None = self.__dict__.get("_sizes")
        if sizes is None:
            lengths = b"".join([_LENGTH[n] * count for n, count in enumerate(self.bits, start=1)])
            others = _BYTES.translate(None, self.values)  # the symbols without a code
            sizes = bytes.maketrans(self.values + others, lengths + bytes(len(others)))
            self.__dict__["_sizes"] = sizes
        return sizes

    def _codes(self) -> list[int]:
        codes, runs, code = [0] * 256, [], 0
        for count in self.bits:  # each length's codes follow on (C.2)
            runs.append(range(code, code + count))
            code = (code + count) << 1
        for symbol, code in zip(self.values, chain.from_iterable(runs), strict=True):
            codes[symbol] = code
        return codes


def _tree(nodes: list[int], shift: int) -> list[int]:
    """The leaves at each depth (index) of the Huffman tree of ``nodes`` (ascending, each
    ``count << shift | tag``, its tag unique, smaller for a larger symbol). The two least nodes
    merge, among equal counts the larger symbol first (Annex K.1's rule); a merged node takes
    the smaller tag of its two: a heap of (count, -symbol) nodes would merge the same.

    Merged nodes come in increasing order (two of one count were merged from four nodes of
    half that count, the earlier from the smaller tags), so they queue as they come, beside
    the leaves; and a node taken earlier is never shallower than one taken later: the leaves'
    depths do not increase along ``nodes``, and the counts of each depth are the tree. Each
    merged node notes the one it went into: the merged nodes of each depth follow, root down."""
    top, k = (1 << shift) - 1, len(nodes)
    if k < 2:
        return [0, k]
    # the least count's leaves pair off in order (their merged nodes all count more)
    pairs = bisect_left(nodes, ((nodes[0] >> shift) + 1) << shift) & ~1
    merged = [a + b - (b & top) for a, b in zip(nodes[0:pairs:2], nodes[1:pairs:2], strict=True)]
    end = ((nodes[-1] >> shift) * k + 1) << shift  # above any node: ends each queue
    merged += [end] * (k - len(merged))  # room for them all (k - 1), then the end
    leaves = nodes[pairs:]
    leaves.append(end)
    parents: list[int] = []  # of each merged node in turn, the one it went into
    up = parents.append
    i = j = 0
    leaf, node = leaves[0], merged[0]
    for w in range(pairs // 2, k - 1):
        if node < leaf:
            a, j = node, j + 1
            up(w)
            node = merged[j]
        else:
            a, i = leaf, i + 1
            leaf = leaves[i]
        if node < leaf:
            b, j = node, j + 1
            up(w)
        else:
            b, i = leaf, i + 1
            leaf = leaves[i]
        ta, tb = a & top, b & top
        merged[w] = a + b - (ta if ta > tb else tb)
        node = merged[j]
    counts, first, last = [0], k - 2, k - 1  # merged nodes first..last - 1: the root
    while first < last:
        below = bisect_left(parents, first)  # the merged nodes one deeper: below..first - 1
        counts.append(2 * (last - first) - (first - below))
        first, last = below, first
    return counts


def _depths(nodes: list[int], shift: int) -> list[int]:
    """The depth of each of ``nodes``' leaves (:func:`_tree`), in their order."""
    counts = _tree(nodes, shift)
    return [n for n in range(len(counts) - 1, 0, -1) for _ in range(counts[n])]


def code_lengths(counts: Sequence[int]) -> list[int]:
    """Unconstrained Huffman code lengths of ``counts`` (0 for a symbol counted 0; 1 for a lone
    symbol). Ties merge the larger symbol first (Annex K.1's rule)."""
    shift = max(1, (len(counts) - 1).bit_length())
    top = (1 << shift) - 1
    nodes = sorted(int(c) << shift | top - s for s, c in enumerate(counts) if c > 0)
    lengths = [0] * len(counts)
    for node, n in zip(nodes, _depths(nodes, shift), strict=True):
        lengths[top - (node & top)] = n
    return lengths


def _split_deepest(bits: list[int], m: int, n: int) -> None:
    """Split ``n`` times the deepest code of length ``m`` or less in two codes one bit longer
    (``bits``: codes of each length, changed in place; length ``m + 1`` takes the codes split
    from ``m``), as n turns of Figure K.3's inner loop would, a code expanded at a time: one
    of length j expanded to length m + 1 takes 2**(m+1-j) - 1 splits."""
    j = m
    while n > 0:
        while bits[j] == 0:
            j -= 1
        cost = (2 << (m - j)) - 1
        full = min(bits[j], n // cost)
        bits[j] -= full
        bits[m + 1] += full << (m + 1 - j)
        n -= full * cost
        if n and bits[j]:  # one code of length j split n < cost times, deepest first
            bits[j] -= 1
            while n:
                n -= 1
                j += 1  # two codes of length j: the first is split on, or done with
                cost = (1 << (m + 1 - j)) - 1
                if n >= cost:
                    bits[m + 1] += 1 << (m + 1 - j)
                    n -= cost
                else:
                    bits[j] += 1
            bits[j] += 1


def _limited(bits: list[int]) -> list[int]:
    """Annex K.3 (Figure K.3) on ``bits`` (codes of each length, index = length; changed in
    place): 16 bits at most, and one code of the longest length removed (the reserved one).
    Each turn of the figure's loop on length i takes two codes of length i (one moves to
    i - 1) and splits the deepest code of length i - 2 or less."""
    for i in range(len(bits) - 1, MAX_LENGTH, -1):
        turns = (bits[i] + 1) // 2  # the figure's: while BITS(I) > 0
        if turns:
            bits[i] -= 2 * turns
            bits[i - 1] += turns
            _split_deepest(bits, i - 2, turns)
    i = MAX_LENGTH
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1
    return bits[: MAX_LENGTH + 1]


def limit(lengths: Sequence[int]) -> list[int]:
    """BITS[0..16] (index = length) of ``lengths`` after Annex K.3's adjustment to 16 bits at
    most and the removal of one code of the longest length (the reserved all-ones code)."""
    bits = [0] * (max(MAX_LENGTH, *lengths) + 1)
    for n in lengths:
        bits[n] += 1
    bits[0] = 0
    return _limited(bits)


@lru_cache(maxsize=8)
def _plan(symbols: tuple[int, ...]) -> tuple[list[int], list[int], int]:
    """``symbols`` ascending, the tag of each (by its index: :data:`RESERVED` comes after them
    all) and the bits a tag takes, for :func:`_tree`."""
    coded = sorted(set(symbols))
    shift = max(1, len(coded).bit_length())
    return coded, [(1 << shift) - 1 - k for k in range(len(coded))], shift


def optimal(counts: Sequence[int], symbols: Sequence[int]) -> Table:
    """The optimal table (Annex K.2) for ``counts`` (by symbol, 256 entries), every symbol of
    ``symbols`` given a code (its count plus one)."""
    row = counts.tolist() if hasattr(counts, "tolist") else [int(c) for c in counts]
    coded, tags, shift = _plan(tuple(symbols))
    n, top = len(coded), (1 << shift) - 1
    nodes = [(row[s] + 1) << shift | t for s, t in zip(coded, tags, strict=True)]
    nodes.append(1 << shift | top - n)  # the reserved symbol, index n: the least node
    nodes.sort()
    bits = _tree(nodes, shift)
    order, end = [], len(nodes)  # indices in coded by code length, then symbol
    for count in bits:  # the shortest codes are the last nodes
        order += sorted([top - (node & top) for node in nodes[end - count : end]])
        end -= count
    order.pop()  # the reserved symbol: the largest index, of the longest codes
    bits += [0] * (MAX_LENGTH + 1 - len(bits))
    return Table(tuple(_limited(bits)[1:]), bytes(map(coded.__getitem__, order)))


def dht(tables: Sequence[tuple[int, int, Table]]) -> bytes:
    """One DHT segment holding ``(class, id, table)`` each (class :data:`DC` or :data:`AC`)."""
    body = b"".join(bytes([tc << 4 | th, *t.bits]) + t.values for tc, th, t in tables)
    return b"\xff\xc4" + struct.pack(">H", len(body) + 2) + body
