"""Safe extraction of an archive into one folder; runs in the import's isolated child process.

Safe by construction, whatever the archive declares:

- names: every member name is checked and sanitized (:func:`archives.member_parts`) before
  anything is written; files are created with ``O_EXCL | O_NOFOLLOW`` below folders this code
  made itself (no link is ever created: symbolic and hard links, devices and FIFOs are refused),
  so nothing is written outside the folder, and a member that appears twice is refused;
- sizes: bytes are counted as they are decompressed (declared sizes are only used to refuse
  early): the total, each member, the number of members and the compression ratio (bytes
  written per compressed byte read) are bounded, so a bomb stops within a chunk of its limit;
- ZIP: the central directory is checked first (encryption, methods, types, names, declared
  sizes, and entries sharing bytes, the overlapping-entries bomb); each member is decompressed
  by this code from its stored bytes (stored, deflate, bzip2), and must end exactly there with
  its declared size and CRC-32;
- tar (plain, or in gzip / bzip2 / xz): :mod:`cytotile.importer.archives_tar` checks every
  header's checksum; the compressed stream is read to its end, so its own CRC is checked too;
- archives inside archives are extracted in place (``inner.zip`` becomes the folder
  ``inner.zip/``) up to ``Limits.max_depth`` levels, within the same limits; deeper is refused.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import itertools
import lzma
import os
import re
import stat
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from cytotile.errors import ExtractionError
from cytotile.importer import archives_tar
from cytotile.importer.archives import (
    KINDS,
    TAR_BLOCK,
    Limits,
    member_parts,
    sniff_file,
    stream_name,
    tar_header_ok,
)

CHUNK = 1 << 20
INPUT_CHUNK = 1 << 16  # compressed bytes read at a time: the ratio is judged at that grain
ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
}
DECODE_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError)
_LOCAL = struct.Struct("<4s5H3I2H")


class Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


class Counting:
    """A file read through, counting the (compressed) bytes read."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.count += len(data)
        return data


class Guard:
    """Decompressed bytes read through, against the compression-ratio limit."""

    def __init__(self, source: Readable, compressed: Callable[[], int], limits: Limits) -> None:
        self.source = source
        self.compressed = compressed
        self.limits = limits
        self.count = 0

    def read(self, n: int = CHUNK) -> bytes:
        data = self.source.read(n)
        self.count += len(data)
        limits = self.limits
        stored = max(self.compressed(), 1)
        if self.count > limits.ratio_floor and self.count > limits.max_ratio * stored:
            raise ExtractionError(
                f"more than {limits.max_ratio:g} bytes per compressed byte "
                f"({_mib(self.count)} from {stored} bytes so far): a compression bomb?"
            )
        return data


class Budget:
    """What has been written so far, against the limits; ``source_bytes``, the upload's size,
    bounds the whole upload's ratio (every level, every member together)."""

    def __init__(self, limits: Limits, source_bytes: int) -> None:
        self.limits = limits
        self.source_bytes = max(source_bytes, 1)
        self.written = 0
        self.members = 0
        self.files: list[Path] = []
        self.single: Path | None = None  # the file of a compressed stream that holds no tar

    def member(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ExtractionError(f"more than {self.limits.max_members} members ({name!r})")

    def account(self, n: int) -> None:
        self.written += n
        if self.written > self.limits.max_bytes:
            raise ExtractionError(
                f"the archive unpacks to more than the limit of {_mib(self.limits.max_bytes)}"
            )
        self.check_ratio(self.written, "unpacks to")

    def check_ratio(self, total: int, verb: str) -> None:
        """The upload as a whole: many members each below the ratio floor (a thousand MiB of
        zeros, or archives of them nested) escape each member's ratio, not this one."""
        limits = self.limits
        if total > limits.ratio_floor and total > limits.max_ratio * self.source_bytes:
            raise ExtractionError(
                f"the archive {verb} {_mib(total)}, more than {limits.max_ratio:g} times its "
                f"{self.source_bytes} bytes: a compression bomb?"
            )

    def folder(self, base: Path, parts: list[str]) -> Path:
        here = base
        for part in parts:
            here = here / part
            with contextlib.suppress(FileExistsError):
                os.mkdir(here, 0o755)
            if not stat.S_ISDIR(os.lstat(here).st_mode):
                raise ExtractionError(f"{'/'.join(parts)!r} is both a file and a folder")
        return here

    def write(self, base: Path, parts: list[str], source: Readable) -> Path:
        path = self.folder(base, parts[:-1]) / parts[-1]
        name = "/".join(parts)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            raise ExtractionError(f"member {name!r} appears twice") from None
        self.files.append(path)
        size = 0
        with os.fdopen(fd, "wb") as out:
            while data := source.read(CHUNK):
                size += len(data)
                if size > self.limits.max_member_bytes:
                    raise ExtractionError(
                        f"member {name!r} is larger than the limit of "
                        f"{_mib(self.limits.max_member_bytes)}"
                    )
                self.account(len(data))
                out.write(data)
        return path


def unpack(path: Path, kind: str, out: Path, limits: Limits, upload_name: str) -> dict[str, Any]:
    """Extract the archive at ``path`` into the (new or empty) folder ``out``; return the files
    written (``path`` relative to ``out``, ``size``) and the totals."""
    out.mkdir(parents=True, exist_ok=True)
    if out.is_symlink() or any(out.iterdir()):
        raise ExtractionError("the extraction folder is not a new folder")
    budget = Budget(limits, path.stat().st_size)
    _unpack_level(path, kind, out, budget, upload_name, depth=0)
    files = []
    for folder, dirs, names in os.walk(out):
        dirs.sort()
        for name in sorted(names):
            full = Path(folder) / name
            files.append({"path": full.relative_to(out).as_posix(), "size": full.stat().st_size})
    single = budget.single
    return {
        "files": files,
        "written": budget.written,
        "members": budget.members,
        # a .gz (.bz2, .xz) of one file that is not itself an archive: that file is the upload
        "single": single.relative_to(out).as_posix() if single and single.is_file() else None,
    }


def _unpack_level(
    path: Path, kind: str, base: Path, budget: Budget, upload_name: str, depth: int
) -> None:
    first = len(budget.files)
    try:
        if kind == "zip":
            _unpack_zip(path, base, budget)
        else:
            _unpack_stream(path, kind, base, budget, upload_name)
    except ExtractionError:
        raise
    except DECODE_ERRORS as exc:
        raise ExtractionError(f"corrupt {KINDS[kind]} archive: {exc}") from exc
    for member in budget.files[first:]:
        inner = sniff_file(member)
        if inner is None:
            continue
        where = member.relative_to(base).as_posix()
        if depth + 1 > budget.limits.max_depth:
            raise ExtractionError(
                f"{where!r} is an archive nested more than {budget.limits.max_depth} levels deep"
            )
        scratch = member.parent / f".nested-{uuid.uuid4().hex}"
        os.mkdir(scratch, 0o755)
        try:
            _unpack_level(member, inner, scratch, budget, member.name, depth + 1)
        except ExtractionError as exc:
            raise ExtractionError(f"in {where!r}: {exc.details}") from exc
        os.remove(member)
        os.rename(scratch, member)


def _unpack_zip(path: Path, base: Path, budget: Budget) -> None:
    with zipfile.ZipFile(path) as zf:  # the central directory only: members are read below
        plan = _check_zip(path, zf, zf.infolist(), budget)
    with open(path, "rb") as fh:
        for info, parts, data_offset in plan:
            if info.is_dir():
                budget.folder(base, parts)
                continue
            member = ZipMember(fh, info, data_offset)
            try:
                budget.write(base, parts, Guard(member, member.consumed, budget.limits))
            except DECODE_ERRORS as exc:
                raise ExtractionError(f"member {info.filename!r}: {exc}") from exc


class ZipMember:
    """A ZIP member's bytes, decompressed from its stored bytes by this code: the stream must
    end exactly where the central directory says, with the declared size and CRC-32."""

    def __init__(self, fh: BinaryIO, info: zipfile.ZipInfo, data_offset: int) -> None:
        self.fh, self.info = fh, info
        self.position = data_offset
        self.left = info.compress_size  # stored bytes not read yet
        self.method = ZIP_METHODS[info.compress_type]
        self.inflate = zlib.decompressobj(-15) if self.method == "deflate" else None
        self.bunzip = bz2.BZ2Decompressor() if self.method == "bzip2" else None
        self.tail = b""
        self.crc = 0
        self.size = 0

    def consumed(self) -> int:
        return self.info.compress_size - self.left

    def _input(self, n: int) -> bytes:
        if self.left <= 0:
            return b""
        self.fh.seek(self.position)
        data = self.fh.read(min(n, self.left))
        if not data:
            raise ExtractionError(f"member {self.info.filename!r} is truncated")
        self.position += len(data)
        self.left -= len(data)
        return data

    def read(self, n: int = CHUNK) -> bytes:
        while True:
            if self.method == "stored":
                out = self._input(n)
            elif self.inflate is not None:
                if self.inflate.eof:
                    out = b""
                else:
                    feed = self.tail or self._input(INPUT_CHUNK)
                    if not feed:
                        raise ExtractionError(f"member {self.info.filename!r} is truncated")
                    out = self.inflate.decompress(feed, n)
                    self.tail = self.inflate.unconsumed_tail
                    if not out and not self.inflate.eof:
                        continue
            else:
                assert self.bunzip is not None
                if self.bunzip.eof:
                    out = b""
                else:
                    feed = self._input(INPUT_CHUNK) if self.bunzip.needs_input else b""
                    if self.bunzip.needs_input and not feed:
                        raise ExtractionError(f"member {self.info.filename!r} is truncated")
                    out = self.bunzip.decompress(feed, n)
                    if not out and not self.bunzip.eof:
                        continue
            if not out:
                self._check_end()
                return b""
            self.crc = zlib.crc32(out, self.crc)
            self.size += len(out)
            return out

    def _check_end(self) -> None:
        name = self.info.filename
        if self.left or self.tail or (self.inflate is not None and self.inflate.unused_data):
            raise ExtractionError(f"member {name!r}: its data continues past its stream's end")
        if self.size != self.info.file_size:
            raise ExtractionError(
                f"member {name!r} declares {self.info.file_size} bytes and holds {self.size}"
            )
        if self.crc != self.info.CRC:
            raise ExtractionError(f"member {name!r}: bad CRC-32")


def _check_zip(
    path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], budget: Budget
) -> list[tuple[zipfile.ZipInfo, list[str], int]]:
    limits = budget.limits
    plan, seen, spans, declared = [], set(), [], 0
    with open(path, "rb") as fh:
        end_of_data = int(getattr(zf, "start_dir", os.fstat(fh.fileno()).st_size))
        for info in infos:
            name = info.filename
            budget.member(name)
            if info.flag_bits & 0x1:
                raise ExtractionError(f"member {name!r} is encrypted")
            if info.compress_type not in ZIP_METHODS:
                raise ExtractionError(
                    f"member {name!r}: compression method {info.compress_type} is not supported"
                )
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                if stat.S_ISLNK(mode):
                    raise ExtractionError(f"member {name!r} is a symbolic link: refused")
                if not stat.S_ISDIR(mode):
                    raise ExtractionError(f"member {name!r} is a device, FIFO or socket")
            parts = member_parts(name)
            if "/".join(parts) in seen:
                raise ExtractionError(f"member {name!r} appears twice")
            seen.add("/".join(parts))
            if info.file_size > limits.max_member_bytes:
                raise ExtractionError(f"member {name!r} declares {_mib(info.file_size)}")
            declared += info.file_size
            stored = max(info.compress_size, 1)
            if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * stored:
                raise ExtractionError(f"member {name!r} declares a compression bomb's ratio")
            start, data_offset, end = _span(fh, info)
            spans.append((start, end, name))
            plan.append((info, parts, data_offset))
    if declared > limits.max_bytes:
        raise ExtractionError(f"the archive declares {_mib(declared)}, more than the limit")
    budget.check_ratio(budget.written + declared, "declares")
    spans.sort()
    for (_, end, name), (next_start, _, next_name) in itertools.pairwise(spans):
        if next_start < end:
            raise ExtractionError(
                f"members {name!r} and {next_name!r} overlap (share bytes): a zip bomb?"
            )
    if spans and spans[-1][1] > end_of_data:
        raise ExtractionError(f"member {spans[-1][2]!r} runs into the central directory")
    return plan


def _span(fh: BinaryIO, info: zipfile.ZipInfo) -> tuple[int, int, int]:
    """Where a member's local header starts, its data starts, and its data ends."""
    fh.seek(info.header_offset)
    header = fh.read(_LOCAL.size)
    if len(header) < _LOCAL.size or header[:4] != b"PK\x03\x04":
        raise ExtractionError(f"member {info.filename!r}: no local header where it should be")
    fields = _LOCAL.unpack(header)
    start = info.header_offset
    data_offset = start + _LOCAL.size + fields[-2] + fields[-1]
    return start, data_offset, data_offset + info.compress_size


class _Prefixed:
    """``head`` then the rest of ``source``."""

    def __init__(self, head: bytes, source: Readable) -> None:
        self.head = head
        self.source = source

    def read(self, n: int = CHUNK) -> bytes:
        if self.head:
            data, self.head = self.head[:n], self.head[n:]
            return data
        return self.source.read(n)


def _decompressor(kind: str, raw: Counting) -> Readable:
    fileobj = cast(BinaryIO, raw)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=fileobj, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(fileobj)
    if kind == "xz":
        return lzma.LZMAFile(fileobj)
    return raw


def _unpack_stream(path: Path, kind: str, base: Path, budget: Budget, upload_name: str) -> None:
    with open(path, "rb") as fh:
        raw = Counting(fh)
        guard = Guard(_decompressor(kind, raw), lambda: raw.count, budget.limits)
        head = b""
        while len(head) < TAR_BLOCK and (data := guard.read(TAR_BLOCK - len(head))):
            head += data
        stream = _Prefixed(head, guard)
        if kind == "tar" or tar_header_ok(head):
            for member in archives_tar.members(stream):  # type: ignore[arg-type]
                budget.member(member.name)
                parts = member_parts(member.name)
                if member.size > budget.limits.max_member_bytes:
                    raise ExtractionError(f"member {member.name!r} declares {_mib(member.size)}")
                if member.is_dir:
                    budget.folder(base, parts)
                else:
                    budget.write(base, parts, member.data)
            while data := stream.read(CHUNK):  # the rest: the stream's end and its checksum
                budget.account(len(data))
            return
        name = _gzip_name(path) if kind == "gzip" else None
        budget.member(name or upload_name)
        written = budget.write(base, [name or _single(stream_name(upload_name, kind))], stream)
        if len(budget.files) == 1:
            budget.single = written


def _single(name: str) -> str:
    return member_parts(re.split(r"[\\/]", name)[-1] or "file")[-1]


def _gzip_name(path: Path) -> str | None:
    """The file name a gzip header records (FNAME), reduced to a safe base name."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    flags, pos = head[3], 10
    if flags & 0x04:
        pos += 2 + int.from_bytes(head[pos : pos + 2], "little")
    if not flags & 0x08:
        return None
    end = head.find(b"\0", pos)
    if end < 0:
        return None
    base = re.split(r"[\\/]", head[pos:end].decode("latin-1"))[-1]
    return _single(base) if base.strip(". ") else None
