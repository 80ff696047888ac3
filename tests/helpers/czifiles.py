"""Small Zeiss CZI files (ZISRAW) written by hand, as the format's documentation lays them out:
a file header segment naming the subblock directory and the metadata segment, one uncompressed
Gray16 subblock per (scene, channel) placed at the scene's position in the file's X/Y frame,
the directory of their DV entries, and XML metadata naming the scenes and channels."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

GRAY16 = 1
HEADER_ALLOCATED = 512


def _segment(sid: str, data: bytes) -> bytes:
    return struct.pack("<16sqq", sid.encode(), len(data), len(data)) + data


def _entry(position: int, dims: list[tuple[str, int, int]]) -> bytes:
    """A DirectoryEntryDV: uncompressed Gray16 at ``position``, dims (name, start, size)."""
    head = struct.pack("<2siqiiBB4si", b"DV", GRAY16, position, 0, 0, 0, 0, b"\0" * 4, len(dims))
    return head + b"".join(struct.pack("<4siifi", n.encode(), s, z, 0.0, z) for n, s, z in dims)


def write_czi(path: Path, scenes: list[tuple[np.ndarray, int, int, str]]) -> Path:
    """``scenes``: (data (C, H, W) uint16, x, y, name) each, placed at (x, y)."""
    n_c = scenes[0][0].shape[0]
    body = b""
    entries = []
    offset = 32 + HEADER_ALLOCATED
    for s, (data, x, y, _) in enumerate(scenes):
        _, h, w = data.shape
        for c in range(n_c):
            dims = [("X", x, w), ("Y", y, h), ("C", c, 1), ("S", s, 1)]
            entry = _entry(offset + len(body), dims)
            pixels = np.ascontiguousarray(data[c], dtype="<u2").tobytes()
            block = struct.pack("<iiq", 0, 0, len(pixels)) + entry
            block += b"\0" * max(240 - len(entry), 0) + pixels
            body += _segment("ZISRAWSUBBLOCK", block)
            entries.append(entry)
    directory_at = offset + len(body)
    body += _segment(
        "ZISRAWDIRECTORY", struct.pack("<i", len(entries)) + b"\0" * 124 + b"".join(entries)
    )
    names = "".join(f'<Scene Index="{k}" Name="{s[3]}"/>' for k, s in enumerate(scenes))
    channels = "".join(f'<Channel Id="Channel:{c}" Name="ch{c}"/>' for c in range(n_c))
    xml = (
        "<ImageDocument><Metadata><Information><Image><ComponentBitCount>16</ComponentBitCount>"
        f"<Dimensions><Channels>{channels}</Channels><S><Scenes>{names}</Scenes></S>"
        "</Dimensions></Image></Information></Metadata></ImageDocument>"
    ).encode()
    metadata_at = offset + len(body)
    body += _segment("ZISRAWMETADATA", struct.pack("<ii", len(xml), 0) + b"\0" * 248 + xml)
    guid = b"\x11" * 16
    header = struct.pack(
        "<iiii16s16siqqiq", 1, 0, 0, 0, guid, guid, 0, directory_at, metadata_at, 0, 0
    )
    first = struct.pack("<16sqq", b"ZISRAWFILE", HEADER_ALLOCATED, len(header))
    path.write_bytes(first + header.ljust(HEADER_ALLOCATED, b"\0") + body)
    return path
