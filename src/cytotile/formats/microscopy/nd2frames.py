"""The frames of a Nikon ND2, read by cytotile from the file (the nd2 package gives the
metadata): the chunk map says where each ``ImageDataSeq|i!`` chunk starts, its 16-byte header
(magic, name length, data length) where its data is: an 8-byte timestamp, then the frame's rows
(``uiWidthBytes`` each, padding allowed), every pixel's components interleaved (the channels),
stored as they are or as one zlib stream (NIS-Elements' lossless compression). Rows come in
strips: memory stays bounded whatever the frame, deflated frames included. Every frame the
image needs is checked at open: the nd2 package reads a missing or truncated frame as zeros,
which would import as a blank plane."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from cytotile.errors import FormatError

CHUNKMAP_SIGNATURE = b"ND2 CHUNK MAP SIGNATURE 0000001!"
CHUNK_MAGIC = 0x0ABECEDA
READ_BYTES = 4 * 2**20  # compressed bytes read at a time


def frame_offsets(path: Path) -> dict[int, int]:
    """Where each frame chunk starts (sequence index -> byte), from the file's chunk map: the
    file's last 40 bytes are a signature and the map's offset; the map lists ``name!`` then the
    chunk's offset and size (uint64 each)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 40))
        tail = fh.read(40)
        if len(tail) < 40 or tail[:32] != CHUNKMAP_SIGNATURE:
            raise FormatError("ND2 file without its chunk map (truncated?)")
        (where,) = struct.unpack("<Q", tail[32:])
        if not 0 < where < size - 40:
            raise FormatError("ND2 chunk map offset outside the file")
        fh.seek(where)
        data = fh.read(size - where)
    if len(data) < 16 or struct.unpack("<I", data[:4])[0] != CHUNK_MAGIC:
        raise FormatError("ND2 chunk map offset does not point at a chunk")
    offsets, pos = {}, 16 + struct.unpack("<I", data[4:8])[0]  # after the map's name
    while (bang := data.find(b"!", pos)) >= 0 and bang + 17 <= len(data):
        name = data[pos : bang + 1]
        if name == CHUNKMAP_SIGNATURE:
            break
        if name.startswith(b"ImageDataSeq|") and name[13:-1].isdigit():
            offsets[int(name[13:-1])] = struct.unpack("<Q", data[bang + 1 : bang + 9])[0]
        pos = bang + 17
    return offsets


def check_frames(
    path: Path, offsets: dict[int, int], index: dict[tuple[int, int], int], frame_bytes: int
) -> dict[int, tuple[int, int]]:
    """(start, length) of the stored frame after its timestamp, for each sequence index the
    planes need, each checked to lie whole inside the file. ``frame_bytes``: the size of an
    uncompressed frame, the least its chunk may hold (0 for deflated frames)."""
    size, frames = path.stat().st_size, {}
    with open(path, "rb") as fh:
        for (z, t), seq in sorted(index.items()):
            offset = offsets.get(seq)
            if offset is None:
                raise FormatError(f"ND2 frame {seq} (z={z}, t={t}) is not in the chunk map")
            fh.seek(offset)
            head = fh.read(16)
            magic, name_length, data_length = struct.unpack("<IIQ", head.ljust(16, b"\0"))
            if magic != CHUNK_MAGIC or data_length < 8 + frame_bytes:
                raise FormatError(f"ND2 frame {seq} (z={z}, t={t}): no frame chunk there")
            if offset + 16 + name_length + data_length > size:
                raise FormatError(f"ND2 frame {seq} (z={z}, t={t}) ends past the end of the file")
            frames[seq] = (offset + 16 + name_length + 8, data_length - 8)
    return frames


def row_strips(
    path: Path, where: tuple[int, int], row_bytes: int, height: int, rows: int, deflated: bool
) -> Iterator[tuple[int, bytes]]:
    """(first row, bytes of ``rows`` rows or the last ones) of a frame, top to bottom."""
    start, length = where
    with open(path, "rb") as fh:
        fh.seek(start)
        if not deflated:
            for y in range(0, height, rows):
                n = min(rows, height - y)
                data = fh.read(n * row_bytes)
                if len(data) != n * row_bytes:
                    raise FormatError(f"ND2 frame ends before row {y + n} (truncated file)")
                yield y, data
            return
        inflate, left, pending, y = zlib.decompressobj(), length, b"", 0
        while y < height:
            want = min(rows, height - y) * row_bytes
            while len(pending) < want:
                if inflate.unconsumed_tail:
                    chunk = inflate.unconsumed_tail
                elif left > 0:
                    chunk = fh.read(min(READ_BYTES, left))
                    left -= len(chunk)
                    if not chunk:
                        left = 0
                        continue
                else:
                    raise FormatError(f"ND2 deflated frame ends before row {y}")
                pending += inflate.decompress(chunk, want - len(pending))
            yield y, pending[:want]
            pending, y = pending[want:], y + want // row_bytes
