"""JPEG streams and tables for the coefficient codec's tests (``cytotile.importer._jpegdct``):
libjpeg's reading of a stream (``jpeglib``), the segments of a stream, Huffman codes from a DHT
(Annex C) or from symbol counts (Annex K.2), a stream wrapped around an entropy-coded segment."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: natural-order index of the k-th coefficient in zig-zag order (T.81 Figure A.6)
ZIGZAG = np.array(
    sorted(range(64), key=lambda i: (i // 8 + i % 8, i // 8 if (i // 8 + i % 8) % 2 else i % 8))
)


@dataclass
class Parsed:
    """What the tests need of a stream: its frame, scan header, tables and scan data."""

    width: int = 0
    height: int = 0
    comps: list[tuple[int, int, int, int]] = field(default_factory=list)  # id, h, v, tq
    scan: list[tuple[int, int, int]] = field(default_factory=list)  # id, td, ta
    dht: dict[tuple[int, int], tuple[bytes, bytes]] = field(default_factory=dict)  # BITS, HUFFVAL
    restart: int = 0
    sos_end: int = 0  # offset of the scan data

    @property
    def sampling(self) -> tuple[tuple[int, int], ...]:
        return tuple((h, v) for _, h, v, _ in self.comps) if len(self.comps) > 1 else ((1, 1),)

    @property
    def mcus(self) -> tuple[int, int]:
        if len(self.comps) == 1:
            return -(-self.width // 8), -(-self.height // 8)
        hmax = max(h for _, h, _, _ in self.comps)
        vmax = max(v for _, _, v, _ in self.comps)
        return -(-self.width // (8 * hmax)), -(-self.height // (8 * vmax))

    def mcu_planes(self) -> tuple[np.ndarray, ...]:
        """Zeroed planes of every block of the MCUs (dummy ones included)."""
        mx, my = self.mcus
        return tuple(np.zeros((my * v, mx * h, 64), np.int16) for h, v in self.sampling)

    def huffman(self) -> tuple[tuple[bytes, bytes, bytes, bytes], ...]:
        """The stream's own tables per component, as ``encode`` takes them."""
        tables = {i: (td, ta) for i, td, ta in self.scan}
        out = []
        for cid, *_ in self.comps:
            td, ta = tables[cid]
            out.append((*codes(*self.dht[0, td]), *codes(*self.dht[1, ta])))
        return tuple(out)


def parse(stream: bytes) -> Parsed:
    """The segments up to the scan header (a well-formed stream)."""
    p, pos = Parsed(), 2
    while True:
        marker, length = stream[pos + 1], struct.unpack(">H", stream[pos + 2 : pos + 4])[0]
        body = stream[pos + 4 : pos + 2 + length]
        pos += 2 + length
        if marker in (0xC0, 0xC1):
            p.height, p.width, n = struct.unpack(">HHB", body[1:6])
            p.comps = [(body[6 + 3 * k], body[7 + 3 * k] >> 4, body[7 + 3 * k] & 15,
                        body[8 + 3 * k]) for k in range(n)]  # fmt: skip
        elif marker == 0xC4:
            while body:
                total = sum(body[1:17])
                p.dht[body[0] >> 4, body[0] & 15] = body[1:17], body[17 : 17 + total]
                body = body[17 + total :]
        elif marker == 0xDD:
            p.restart = struct.unpack(">H", body)[0]
        elif marker == 0xDA:
            p.scan = [(body[1 + 2 * i], body[2 + 2 * i] >> 4, body[2 + 2 * i] & 15)
                      for i in range(body[0])]  # fmt: skip
            p.sos_end = pos
            return p


def scan_data(stream: bytes) -> bytes:
    """The entropy-coded data of a single-scan stream without restart markers."""
    return stream[parse(stream).sos_end : stream.rindex(b"\xff\xd9")]


def codes(bits: bytes, vals: bytes) -> tuple[bytes, bytes]:
    """(codes as 256 little-endian uint32, sizes as 256 uint8) of a table (Annex C)."""
    code_of, size_of = np.zeros(256, "<u4"), np.zeros(256, np.uint8)
    code, i = 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            code_of[vals[i]], size_of[vals[i]] = code, length
            code, i = code + 1, i + 1
        code <<= 1
    return code_of.tobytes(), size_of.tobytes()


def optimal(counts: np.ndarray) -> tuple[bytes, bytes]:
    """BITS and HUFFVAL of the optimal table for the counts of 256 symbols (Annex K.2: code
    sizes, limited to 16 bits, a reserved symbol keeping the all-ones code unused)."""
    freq = [int(c) for c in counts] + [1]
    size, others = [0] * 257, [-1] * 257
    while True:
        live = [v for v in range(257) if freq[v] > 0]
        if len(live) < 2:
            break
        v1 = min(live, key=lambda v: (freq[v], -v))
        v2 = min((v for v in live if v != v1), key=lambda v: (freq[v], -v))
        freq[v1] += freq[v2]
        freq[v2] = 0
        for v in (v1, v2):
            size[v] += 1
            while others[v] != -1:
                v = others[v]
                size[v] += 1
        while others[v1] != -1:
            v1 = others[v1]
        others[v1] = v2
    bits = plain_limit(size)  # no code longer than 16 bits, the reserved symbol's removed
    vals = [v for n in range(1, 33) for v in range(256) if size[v] == n]
    return bytes(bits[1:17]), bytes(vals)


def plain_limit(lengths: list[int]) -> list[int]:
    """Figure K.3, one move at a time, then the reserved code removed."""
    bits = [0] * (max(max(lengths), 16) + 1)
    for n in lengths:
        if n:
            bits[n] += 1
    for i in range(len(bits) - 1, 16, -1):
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
    i = 16
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1
    return bits[:17]


def segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def wrap(
    p: Parsed,
    quant: bytes,
    dht: dict[tuple[int, int], tuple[bytes, bytes]],
    data: bytes,
    restart: int = 0,
) -> bytes:
    """A complete stream of ``p``'s frame and scan header around the entropy-coded ``data``:
    SOI, DQT (``quant`` as ``decode`` returns it), DHT, (DRI), SOF0, SOS, data, EOI."""
    qt = np.frombuffer(quant, "<u2").reshape(4, 64)
    used = sorted({tq for *_, tq in p.comps})
    dqt = b"".join(
        bytes([0x10 | t]) + qt[t][ZIGZAG].astype(">u2").tobytes()
        if qt[t].max() > 255
        else bytes([t]) + qt[t][ZIGZAG].astype(np.uint8).tobytes()
        for t in used
    )
    out = io.BytesIO()
    out.write(b"\xff\xd8" + segment(0xDB, dqt))
    out.write(
        segment(0xC4, b"".join(bytes([tc << 4 | th]) + b + v for (tc, th), (b, v) in dht.items()))
    )
    if restart:
        out.write(segment(0xDD, struct.pack(">H", restart)))
    sof = struct.pack(">BHHB", 8, p.height, p.width, len(p.comps))
    out.write(segment(0xC0, sof + b"".join(bytes([i, h << 4 | v, tq]) for i, h, v, tq in p.comps)))
    sos = bytes([len(p.scan)]) + b"".join(bytes([i, td << 4 | ta]) for i, td, ta in p.scan)
    out.write(segment(0xDA, sos + b"\x00\x3f\x00") + data + b"\xff\xd9")
    return out.getvalue()


def reference(stream: bytes, tmp_path: Path) -> list[np.ndarray]:
    """libjpeg's coefficient planes of the stream (jpeglib's ``read_dct``), (rows, cols, 64)."""
    import jpeglib

    path = tmp_path / "reference.jpg"
    path.write_bytes(stream)
    jpeg = jpeglib.read_dct(str(path))
    planes = [jpeg.Y] + ([jpeg.Cb, jpeg.Cr] if jpeg.has_chrominance else [])
    return [np.ascontiguousarray(c).reshape(c.shape[0], c.shape[1], 64) for c in planes]


def corrupted(stream: bytes, count: int, seed: int) -> Iterator[bytes]:
    """``count`` copies of the stream, 1 to 3 of their bytes each set at random."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        bad = bytearray(stream)
        for pos in rng.integers(0, len(bad), rng.integers(1, 4)):
            bad[pos] = int(rng.integers(0, 256))
        yield bytes(bad)
