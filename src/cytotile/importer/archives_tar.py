"""A strict, streaming tar reader: every header's checksum is checked, nothing is skipped.

Python's :mod:`tarfile` ends an archive quietly at a header with a bad checksum and calls a
megabyte of zeros a tar: this reader refuses both. It reads one stream front to back (a plain
file or a decompressor), understands ustar, pax (``x``: path and size; ``g`` ignored) and GNU
long names (``L``), and yields regular files and folders; links, devices, FIFOs, sparse files and
unknown types are refused. A stream that ends before its end-of-archive block is truncated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cytotile.errors import ExtractionError
from cytotile.importer.archives import TAR_BLOCK, tar_header_ok

MAX_META = 1 << 20  # pax and long-name records
REGULAR = (b"0", b"\0", b"7")
REFUSED = {
    b"1": "a hard link",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"6": "a FIFO",
    b"S": "a sparse file",
    b"K": "a link",
}


@dataclass
class TarMember:
    name: str
    is_dir: bool
    size: int
    data: _Bounded


class _Bounded:
    """The next ``size`` bytes of the stream; short reads are truncation."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream = stream
        self.left = size

    def read(self, n: int) -> bytes:
        if self.left <= 0:
            return b""
        data = self.stream.read(min(n, self.left))
        if not data:
            raise ExtractionError("the archive is truncated (a member's data ends early)")
        self.left -= len(data)
        return data

    def skip(self) -> None:
        while self.left > 0:
            self.read(1 << 20)


def _exact(stream: BinaryIO, n: int, what: str) -> bytes:
    out = b""
    while len(out) < n:
        data = stream.read(n - len(out))
        if not data:
            raise ExtractionError(f"the archive is truncated ({what})")
        out += data
    return out


def _number(field: bytes, offset: int) -> int:
    if field[:1] in (b"\x80", b"\xff"):  # GNU base-256
        value = int.from_bytes(field[1:], "big")
        return -value if field[:1] == b"\xff" else value
    text = field.replace(b"\0", b" ").strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ExtractionError(f"bad number in the tar header at offset {offset}") from None


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "replace")


def _pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos:pos + 1] not in (b"\0", b""):  # fmt: skip
        space = data.find(b" ", pos)
        if space < 0:
            raise ExtractionError("a malformed pax header")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise ExtractionError("a malformed pax header") from None
        if length <= space - pos:
            raise ExtractionError("a malformed pax header")
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        pos += length
    return records


def _padded(size: int) -> int:
    return -(-size // TAR_BLOCK) * TAR_BLOCK


def members(stream: BinaryIO) -> Iterator[TarMember]:
    """The files and folders of the tar in ``stream``; each member's data must be read (or
    is skipped) before the next is asked for. ``ExtractionError`` for anything unsafe or bad."""
    offset = 0
    long_name: str | None = None
    pax: dict[str, str] = {}
    while True:
        block = _exact(stream, TAR_BLOCK, "no end-of-archive block")
        if not block.strip(b"\0"):
            return  # the end-of-archive block
        if not tar_header_ok(block):
            raise ExtractionError(f"bad tar header checksum at offset {offset}")
        kind = block[156:157]
        size = _number(block[124:136], offset)
        if size < 0:
            raise ExtractionError(f"negative size in the tar header at offset {offset}")
        offset += TAR_BLOCK
        if kind in (b"x", b"g", b"L"):
            if size > MAX_META:
                raise ExtractionError(f"a tar metadata record of {size} bytes")
            data = _exact(stream, _padded(size), "a metadata record")[:size]
            offset += _padded(size)
            if kind == b"x":
                pax = _pax(data)
            elif kind == b"L":
                long_name = data.split(b"\0", 1)[0].decode("utf-8", "replace")
            continue
        name = pax.get("path") or long_name or _ustar_name(block)
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise ExtractionError(f"a bad pax size for {name!r}") from None
        long_name, pax = None, {}
        if kind in REFUSED:
            raise ExtractionError(f"member {name!r} is {REFUSED[kind]}: refused")
        if kind not in (*REGULAR, b"5"):
            raise ExtractionError(f"member {name!r} has an unsupported tar type {kind!r}")
        is_dir = kind == b"5" or (kind in REGULAR and name.endswith("/") and size == 0)
        stored = 0 if is_dir else size
        reader = _Bounded(stream, stored)
        yield TarMember(name, is_dir, stored, reader)
        reader.skip()
        _exact(stream, _padded(stored) - stored, "padding")
        offset += _padded(stored)


def _ustar_name(block: bytes) -> str:
    name = _text(block[0:100])
    if block[257:262] == b"ustar":
        prefix = _text(block[345:500])
        if prefix:
            name = f"{prefix}/{name}"
    return name
