"""PNG structure without decoding: the IHDR header and the ancillary chunks (metadata)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cytotile.errors import FormatError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
COLOR_TYPES = {0: "grey", 2: "RGB", 3: "palette", 4: "grey+alpha", 6: "RGBA"}
#: IHDR's compression and filter methods by the names PIMS reports (ExifTool's); the PNG
#: specification defines method 0 only for both
COMPRESSIONS = {0: "Deflate/Inflate"}
FILTERS = {0: "Adaptive"}
MAX_CHUNKS = 4096
MAX_CHUNK_DATA = 1 << 20  # metadata chunks larger than this are skipped
MAX_TEXT = 65536


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int
    compression: int = 0
    filter_method: int = 0

    @property
    def channels(self) -> int:
        return CHANNELS[self.color_type]

    @property
    def raw_bytes(self) -> int:
        """Bytes the deflate stream must inflate to (one filter byte per row)."""
        return self.height * (1 + -(-self.width * self.channels * self.bit_depth // 8))


def read_header(path: Path) -> PngHeader:
    with open(path, "rb") as fh:
        data = fh.read(33)
    if not data.startswith(SIGNATURE):
        raise FormatError("not a PNG file")
    if len(data) < 33:
        raise FormatError("truncated PNG: the file ends inside its header")
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        raise FormatError("malformed PNG: the first chunk is not a 13-byte IHDR")
    if zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        raise FormatError("malformed PNG: bad IHDR checksum")
    width, height, depth, color, comp, filt, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if depth not in DEPTHS.get(color, ()):
        raise FormatError(f"malformed PNG: bit depth {depth} with colour type {color}")
    return PngHeader(width, height, depth, color, interlace, comp, filt)


def chunks(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """``(type, data)`` of the chunks after IHDR, pixel data (IDAT/fdAT) skipped, up to IEND."""
    with open(path, "rb") as fh:
        fh.seek(33)
        for _ in range(MAX_CHUNKS):
            head = fh.read(8)
            if len(head) < 8:
                return
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IEND":
                return
            if kind in (b"IDAT", b"fdAT") or length > MAX_CHUNK_DATA:
                fh.seek(length + 4, 1)
                continue
            data = fh.read(length)
            fh.seek(4, 1)
            yield kind, data


def inflate(data: bytes) -> bytes:
    """Decompress a zTXt/iTXt payload, bounded to ``MAX_TEXT`` bytes."""
    try:
        return zlib.decompressobj().decompress(data, MAX_TEXT)
    except zlib.error:
        return b""


def text(kind: bytes, data: bytes) -> tuple[str, str] | None:
    """Keyword and text of a tEXt, zTXt or iTXt chunk."""
    keyword, _, rest = data.partition(b"\x00")
    if kind == b"tEXt":
        value = rest
    elif kind == b"zTXt":
        value = inflate(rest[1:])
    elif kind == b"iTXt":
        compressed, rest = rest[:1], rest[2:]
        _lang, _, rest = rest.partition(b"\x00")
        _translated, _, value = rest.partition(b"\x00")
        value = inflate(value) if compressed == b"\x01" else value
        return keyword.decode("latin-1"), value.decode("utf-8", "replace")[:MAX_TEXT]
    else:
        return None
    return keyword.decode("latin-1"), value.decode("latin-1")[:MAX_TEXT]
