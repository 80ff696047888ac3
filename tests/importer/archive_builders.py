"""Small synthesized archives for the archive tests: good ones, and the attacks (bombs, overlapping
entries, unsafe names, links, bad checksums), built byte by byte where the standard library
would refuse to write them."""

from __future__ import annotations

import io
import stat
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

from cytotile.synthetic import tissue_image

MiB = 1 << 20
GiB = 1 << 30


def png(seed: int, width: int = 300, height: int = 200) -> bytes:
    return bytes(tissue_image(width, height, seed=seed).pngsave_buffer())


def jpeg(seed: int, width: int = 300, height: int = 200) -> bytes:
    return bytes(tissue_image(width, height, seed=seed).jpegsave_buffer(Q=90))


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def write_tar(path: Path, members: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def tar_with(path: Path, info: tarfile.TarInfo, data: bytes = b"") -> Path:
    """A tar of one member described by ``info`` (a link, a device...)."""
    with tarfile.open(path, "w") as tf:
        tf.addfile(info, io.BytesIO(data) if data else None)
    return path


def zeros_deflate(n_mib: int) -> bytes:
    """A raw deflate stream of ``n_mib`` MiB of zeros, built in milliseconds: one fully flushed
    block of a MiB of zeros (the compressor's state reset after it) repeated, then a final
    empty block."""
    one = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = one.compress(bytes(MiB)) + one.flush(zlib.Z_FULL_FLUSH)
    return block * n_mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def raw_zip(
    path: Path,
    entries: list[tuple[str, bytes, int, int]],
    *,
    method: int = zipfile.ZIP_DEFLATED,
    share_data: bool = False,
) -> Path:
    """A ZIP written by hand: ``entries`` are (name, stored bytes, declared size, CRC-32).

    ``share_data``: every central directory entry points at the first entry's local header
    (the overlapping-entries bomb: members that share their bytes)."""
    out = bytearray()
    central = bytearray()
    first_offset = 0
    for index, (name, data, size, crc) in enumerate(entries):
        raw_name = name.encode()
        offset = len(out)
        if share_data and index:
            offset = first_offset
        else:
            out += struct.pack(
                "<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size,
                len(raw_name), 0,
            )  # fmt: skip
            out += raw_name + data
        central += struct.pack(
            "<4s6H3I5HII", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(data), size,
            len(raw_name), 0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        central += raw_name
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), cd_offset, 0
    )
    path.write_bytes(bytes(out))
    return path


def symlink_zip(path: Path) -> Path:
    info = zipfile.ZipInfo("innocent.png")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    return path


def zeros_gzip(path: Path, n_mib: int) -> Path:
    """A gzip member holding ``n_mib`` MiB of zeros (its CRC is not that of the data: a reader
    that streams it must stop on its size, long before the end)."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", 0, (n_mib * MiB) & 0xFFFFFFFF)
    path.write_bytes(header + zeros_deflate(n_mib) + trailer)
    return path


def zeros_tar_gz(path: Path, n_mib: int) -> Path:
    """A tar.gz whose one member is ``n_mib`` MiB of zeros (its header, then the zeros)."""
    info = tarfile.TarInfo("zeros.raw")
    info.size = n_mib * MiB
    head = info.tobuf(tarfile.GNU_FORMAT)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    gz_head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    body = zeros_deflate(n_mib)
    path.write_bytes(gz_head + start + body + struct.pack("<II", 0, 0))
    return path


def nested_zip(path: Path, depth: int, leaf: bytes, copies: int = 4) -> Path:
    """A 42.zip-like nest: ``depth`` levels of ZIPs, each holding ``copies`` of the level
    below; the innermost holds ``copies`` files of ``leaf``."""
    data = _zip_bytes({f"{i}.bin": leaf for i in range(copies)})
    for _ in range(depth - 1):
        data = _zip_bytes({f"{i}.zip": data for i in range(copies)})
    path.write_bytes(data)
    return path


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def corrupt_tar_checksum(path: Path, member_index: int) -> Path:
    """Change one byte of a member's header name without fixing its checksum."""
    data = bytearray(path.read_bytes())
    offset = 0
    for _ in range(member_index):
        size = int(data[offset + 124 : offset + 136].strip(b"\0 ") or b"0", 8)
        offset += 512 + -(-size // 512) * 512
    data[offset] ^= 0x20
    path.write_bytes(bytes(data))
    return path
