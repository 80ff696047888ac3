"""JPEG stream structure without decoding: markers, frame header, quantization tables.

Enough to decide whether a source's tiles can be re-tiled in the DCT domain (baseline Huffman,
sampling factors, one set of quantization tables), to estimate the quality they were written at,
and to split an encoder's complete stream into TIFF's shared ``JPEGTables`` and per-tile data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SOI, EOI, SOS, DQT, DHT, DRI = 0xD8, 0xD9, 0xDA, 0xDB, 0xC4, 0xDD
SOF_BASELINE = {0xC0, 0xC1}  # baseline and extended sequential, Huffman
SOF_OTHER = {0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}

#: ITU T.81 Annex K luminance table, zigzag order (as stored in DQT)
_STD_LUMA_ZIGZAG = (
    16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40,
    26, 24, 22, 22, 24, 49, 35, 37, 29, 40, 58, 51, 61, 60, 57, 51,
    56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81, 87,
    95, 98, 103, 104, 103, 62, 77, 113, 121, 112, 100, 120, 92, 101, 103, 99,
)  # fmt: skip


@dataclass(frozen=True)
class Frame:
    marker: int  # SOFn
    width: int
    height: int
    #: (component id, horizontal sampling, vertical sampling, quantization table) per component
    components: tuple[tuple[int, int, int, int], ...]

    @property
    def baseline(self) -> bool:
        return self.marker in SOF_BASELINE

    @property
    def mcu_width(self) -> int:
        return 8 * max(c[1] for c in self.components)

    @property
    def mcu_height(self) -> int:
        return 8 * max(c[2] for c in self.components)


def segments(stream: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each marker segment up to and including SOS (or EOI)."""
    if stream[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG stream (no SOI)")
    out = [(SOI, 0, 2)]
    pos = 2
    while pos + 4 <= len(stream):
        if stream[pos] != 0xFF:
            raise ValueError(f"JPEG marker expected at byte {pos}")
        marker = stream[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == EOI:
            out.append((EOI, pos, pos + 2))
            return out
        (length,) = struct.unpack(">H", stream[pos + 2 : pos + 4])
        end = pos + 2 + length
        if end > len(stream):
            raise ValueError("JPEG segment runs past the end of the stream")
        out.append((marker, pos, end))
        if marker == SOS:
            return out
        pos = end
    return out


def frame(stream: bytes) -> Frame | None:
    """The frame header (SOFn) of a stream, or None when it has none (tables only)."""
    for marker, start, end in segments(stream):
        if marker in SOF_BASELINE or marker in SOF_OTHER:
            _, height, width, n = struct.unpack(">BHHB", stream[start + 4 : start + 10])
            comps = []
            for k in range(n):
                cid, hv, tq = stream[start + 10 + 3 * k : start + 13 + 3 * k]
                comps.append((cid, hv >> 4, hv & 15, tq))
            if end < start + 10 + 3 * n:
                raise ValueError("truncated JPEG frame header")
            return Frame(marker, width, height, tuple(comps))
    return None


def has_marker(stream: bytes, marker: int) -> bool:
    return any(m == marker for m, _, _ in segments(stream))


#: the natural-order index (row * 8 + column) of each zigzag position (ITU T.81 Figure A.6)
ZIGZAG_NATURAL = tuple(
    sorted(range(64), key=lambda i: (i // 8 + i % 8, i // 8 if (i // 8 + i % 8) % 2 else i % 8))
)


def natural_quant(tables: dict[int, tuple[int, ...]]) -> bytes:
    """Quantization tables by id (zigzag order, :func:`quant_tables`) as the C codec returns
    them: 4 tables of 64 little-endian uint16 in natural order, an undefined id zeros."""
    out = [0] * 256
    for tid, values in tables.items():
        for k, value in enumerate(values):
            out[64 * tid + ZIGZAG_NATURAL[k]] = value
    return struct.pack("<256H", *out)


def quant_tables(stream: bytes) -> dict[int, tuple[int, ...]]:
    """Quantization tables by id (zigzag order), from every DQT segment of the header."""
    tables: dict[int, tuple[int, ...]] = {}
    for marker, start, end in segments(stream):
        if marker != DQT:
            continue
        pos = start + 4
        while pos < end:
            precision, tid = stream[pos] >> 4, stream[pos] & 15
            pos += 1
            if precision:
                values = struct.unpack(">64H", stream[pos : pos + 128])
                pos += 128
            else:
                values = tuple(stream[pos : pos + 64])
                pos += 64
            tables[tid] = values
    return tables


def estimate_quality(luma_table: tuple[int, ...]) -> int:
    """The IJG quality (1-100) whose scaled Annex K luminance table is nearest ``luma_table``
    (the sum of absolute differences; the lowest of equally near ones).

    A table's sum falls as its quality rises, and a distance is at least the difference of the
    sums: the qualities are tried from the one the sums suggest outwards, each way until the
    sums alone put the rest farther than the nearest so far. A table an IJG encoder scaled is
    matched in a few qualities (0.04 ms, against 0.5 for numpy's 100 x 64 distances on the
    conversion's serial start)."""
    target = sum(luma_table)
    ratio = target / sum(_STD_LUMA_ZIGZAG) * 100  # ~ the scale, clipping aside
    guess = round((200 - ratio) / 2 if ratio <= 100 else 5000 / ratio)
    guess = min(max(guess, 1), 100)
    best_q, best = 0, -1
    for way in (-1, 1):  # down from the guess (sums rising), then up from the next one
        q = guess if way < 0 else guess + 1
        while 1 <= q <= 100:
            scale = 5000 // q if q < 50 else 200 - 2 * q
            table = [min(max((std * scale + 50) // 100, 1), 255) for std in _STD_LUMA_ZIGZAG]
            off = (sum(table) - target) * -way  # > 0: this way, every next one is farther
            if best >= 0 and off > best:
                break
            distance = sum(abs(t - v) for t, v in zip(table, luma_table, strict=True))
            if best < 0 or distance < best or (distance == best and q < best_q):
                best_q, best = q, distance
            q += way
    return best_q


class TableSplitter:
    """:func:`split_tables` of streams that mostly share their headers (one encoder's tiles of
    one size and quality): a stream whose bytes up to its scan data are the last split one's
    is split by slicing, its headers not parsed again."""

    def __init__(self) -> None:
        self._head = b""  # the last parsed stream's bytes up to its scan data
        self._split = (b"", b"")  # its JPEGTables, and its tile's bytes up to its scan data

    def split(self, stream: bytes) -> tuple[bytes, bytes]:
        head = self._head
        if head and stream.startswith(head):
            return self._split[0], self._split[1] + stream[len(head) :]
        tables, tile = split_tables(stream)
        start = segments(stream)[-1][2]  # the scan data's (after SOS)
        self._head = stream[:start]
        self._split = (tables, tile[: len(tile) - (len(stream) - start)])
        return tables, tile


def split_tables(stream: bytes) -> tuple[bytes, bytes]:
    """A complete stream as (``JPEGTables``: SOI DQT DHT EOI, tile: SOI SOF [DRI] SOS... EOI).

    What libtiff writes in a JPEG-compressed TIFF: the tables once per image, abbreviated tiles.
    """
    tables, tile = [b"\xff\xd8"], [b"\xff\xd8"]
    for marker, start, end in segments(stream)[1:]:
        part = stream[start:end]
        if marker in (DQT, DHT):
            tables.append(part)
        elif marker == SOS:
            tile.append(stream[start:])
        elif marker in SOF_BASELINE or marker in SOF_OTHER or marker == DRI:
            tile.append(part)
        # APPn/COM are dropped: the TIFF's tags describe the image
    return b"".join(tables) + b"\xff\xd9", b"".join(tile)


def split_quant(stream: bytes) -> tuple[bytes, bytes]:
    """A complete stream as (SOI DQT... EOI, the stream without its DQT segments nor JFIF APP0).

    The re-tiled level's tiles share their quantization tables (TIFF ``JPEGTables``) but keep
    their own optimized Huffman tables (a tile's DHT overrides the shared ones): ~150 bytes a
    tile less, and a reader splicing tables and tile gets the complete stream back."""
    tables, tile = [b"\xff\xd8"], [b"\xff\xd8"]
    for marker, start, end in segments(stream)[1:]:
        if marker == DQT:
            tables.append(stream[start:end])
        elif marker == SOS:
            tile.append(stream[start:])
        elif marker != 0xE0:  # JFIF says nothing the TIFF does not (an Adobe marker stays)
            tile.append(stream[start:end])
    return b"".join(tables) + b"\xff\xd9", b"".join(tile)


#: APP14 "Adobe", version 100, no flags, transform 0: the components are R, G, B (no YCbCr)
ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"


def mark_rgb(stream: bytes) -> bytes:
    """``stream`` with its APPn segments replaced by an Adobe marker saying "RGB, untransformed"
    (libjpeg then decodes the components as R, G, B, as libtiff does for photometric RGB)."""
    parts, rest = [b"\xff\xd8", ADOBE_RGB], 2
    for marker, start, end in segments(stream)[1:]:
        if marker == SOS:
            parts.append(stream[start:])
            rest = -1
            break
        if not 0xE0 <= marker <= 0xEF:
            parts.append(stream[start:end])
    if rest != -1:
        raise ValueError("JPEG stream without a scan")
    return b"".join(parts)


def drop_app(stream: bytes) -> bytes:
    """``stream`` without its APPn segments (libjpeg then takes 3 components for YCbCr, as
    libtiff tells it to for photometric YCbCr, whatever JFIF or Adobe markers said)."""
    seg = segments(stream)
    if not any(0xE0 <= marker <= 0xEF for marker, _, _ in seg):
        return stream
    parts = [b"\xff\xd8"]
    for marker, start, end in seg[1:]:
        if marker == SOS:
            parts.append(stream[start:])
            break
        if not 0xE0 <= marker <= 0xEF:
            parts.append(stream[start:end])
    return b"".join(parts)
