"""CZI mosaics and pyramids: a plane is assembled from its full-resolution tiles (mosaic index
M), and a pyramid subblock (stored smaller than the region it covers) takes no part in it.

The file is written as tests/helpers/czifiles.py lays CZI out, with several subblocks per plane
(each at its X/Y in the plane, with an M index) and a DirectoryEntryDV whose stored size differs
from its size for the pyramid subblock."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from cytotile.formats import detect
from tests.helpers.czifiles import HEADER_ALLOCATED, _segment

GRAY16 = 1
TILE_H, TILE_W = 16, 20


def _entry(position: int, dims: list[tuple[str, int, int, int]]) -> bytes:
    """DirectoryEntryDV, uncompressed Gray16; dims: (name, start, size, stored size)."""
    head = struct.pack("<2siqiiBB4si", b"DV", GRAY16, position, 0, 0, 0, 0, b"\0" * 4, len(dims))
    packed = (struct.pack("<4siifi", n.encode(), s, z, 0.0, st) for n, s, z, st in dims)
    return head + b"".join(packed)


def _write(path: Path, planes: np.ndarray, pyramid_value: int) -> Path:
    """``planes`` (C, 2 * TILE_H, 2 * TILE_W) as a 2x2 mosaic per channel, then per channel one
    pyramid subblock covering the plane stored at half size, filled with ``pyramid_value``."""
    n_c, height, width = planes.shape
    blocks: list[tuple[list[tuple[str, int, int, int]], np.ndarray]] = []
    for c in range(n_c):
        for m, (ty, tx) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            y, x = ty * TILE_H, tx * TILE_W
            tile = planes[c, y : y + TILE_H, x : x + TILE_W]
            dims = [("X", x, TILE_W, TILE_W), ("Y", y, TILE_H, TILE_H), ("C", c, 1, 1)]
            blocks.append(([*dims, ("M", m, 1, 1)], tile))
        reduced = np.full((height // 2, width // 2), pyramid_value, np.uint16)
        dims = [("X", 0, width, width // 2), ("Y", 0, height, height // 2), ("C", c, 1, 1)]
        blocks.append(([*dims, ("M", 4, 1, 1)], reduced))
    body, entries = b"", []
    offset = 32 + HEADER_ALLOCATED
    for dims, pixels in blocks:
        entry = _entry(offset + len(body), dims)
        data = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
        block = struct.pack("<iiq", 0, 0, len(data)) + entry
        body += _segment("ZISRAWSUBBLOCK", block + b"\0" * max(240 - len(entry), 0) + data)
        entries.append(entry)
    directory_at = offset + len(body)
    body += _segment(
        "ZISRAWDIRECTORY", struct.pack("<i", len(entries)) + b"\0" * 124 + b"".join(entries)
    )
    channels = "".join(f'<Channel Id="Channel:{c}" Name="ch{c}"/>' for c in range(n_c))
    xml = (
        "<ImageDocument><Metadata><Information><Image><ComponentBitCount>16</ComponentBitCount>"
        f"<Dimensions><Channels>{channels}</Channels></Dimensions></Image></Information>"
        "</Metadata></ImageDocument>"
    ).encode()
    metadata_at = offset + len(body)
    body += _segment("ZISRAWMETADATA", struct.pack("<ii", len(xml), 0) + b"\0" * 248 + xml)
    guid = b"\x22" * 16
    header = struct.pack(
        "<iiii16s16siqqiq", 1, 0, 0, 0, guid, guid, 0, directory_at, metadata_at, 0, 0
    )
    first = struct.pack("<16sqq", b"ZISRAWFILE", HEADER_ALLOCATED, len(header))
    path.write_bytes(first + header.ljust(HEADER_ALLOCATED, b"\0") + body)
    return path


def test_mosaic_tiles_assembled_and_pyramid_subblocks_skipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    planes = rng.integers(0, 60000, (2, 2 * TILE_H, 2 * TILE_W), dtype=np.uint16)
    path = _write(tmp_path / "mosaic.czi", planes, pyramid_value=65535)
    fmt = detect(path)
    assert fmt.id == "CZI"
    with fmt.open(path) as source:
        m = source.metadata
        assert (m.width, m.height, m.n_concrete_channels) == (2 * TILE_W, 2 * TILE_H, 2)
        assert [ch.suggested_name for ch in m.channels] == ["ch0", "ch1"]
        for c in range(2):
            assert np.array_equal(source.plane(c, 0, 0).numpy(), planes[c])
