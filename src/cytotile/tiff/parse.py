"""Parse the index (header and every IFD) of a serving pyramid from its first bytes.

Pure bytes in, :class:`PyramidIndex` out: no I/O here, so the tile function can feed it one or
two ranged GETs, and any malformed input becomes a :class:`PyramidError`.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Any, TypeAlias

from cytotile.errors import PyramidError
from cytotile.tiff import layout as L

MAX_IFDS = 100_000
TagValue: TypeAlias = "bytes | array[Any] | tuple[Any, ...]"
Tags: TypeAlias = "dict[int, TagValue]"


@dataclass
class PyramidIndex:
    header: L.PyramidHeader
    tiers: list[list[L.TierIndex]]  # [plane][level]
    index_size: int

    def tier(self, plane: int, level: int) -> L.TierIndex:
        return self.tiers[plane][level]


def ghost_index_size(head: bytes) -> int:
    """The index size announced by the ghost area, from the first bytes of the file."""
    if len(head) < 16 + L.GHOST_SIZE or head[:4] != b"II+\x00":
        raise PyramidError("not a cytotile pyramid (bad BigTIFF header)")
    match = L.GHOST_RE.match(head[16 : 16 + L.GHOST_SIZE])
    if match is None:
        raise PyramidError("not a cytotile pyramid (no ghost area)")
    if int(match.group(1)) > L.FORMAT_VERSION:
        raise PyramidError(f"pyramid format version {int(match.group(1))} is too new")
    return int(match.group(2))


def _values(buf: bytes, ftype: int, count: int, pos: int) -> TagValue:
    if ftype not in L.TYPES:
        raise PyramidError(f"unknown TIFF field type {ftype}")
    char, size = L.TYPES[ftype]
    nbytes = size * count
    if pos + nbytes > len(buf):
        raise PyramidError("tag value lies outside the index")
    raw = buf[pos : pos + nbytes]
    if ftype in (L.ASCII, L.UNDEFINED, 1):
        return raw
    if ftype in (16, 18, 4, 3) and count > 4:
        arr = array({16: "Q", 18: "Q", 4: "I", 3: "H"}[ftype])
        arr.frombytes(raw)
        if sys.byteorder != "little":
            arr.byteswap()
        return arr
    return struct.unpack(f"<{count * len(char)}{char[0]}", raw)


def _read_ifd(buf: bytes, offset: int) -> tuple[Tags, int]:
    if offset + 8 > len(buf):
        raise PyramidError("IFD lies outside the index")
    (n_entries,) = struct.unpack_from("<Q", buf, offset)
    end = offset + 8 + 20 * n_entries
    if n_entries > 4096 or end + 8 > len(buf):
        raise PyramidError("malformed IFD")
    tags: Tags = {}
    for i in range(n_entries):
        code, ftype, count = struct.unpack_from("<HHQ", buf, offset + 8 + 20 * i)
        size = L.TYPES.get(ftype, ("", 0))[1] * count
        pos = offset + 8 + 20 * i + 12
        if size > 8:
            (pos,) = struct.unpack_from("<Q", buf, pos)
        tags[code] = _values(buf, ftype, count, pos)
    (next_ifd,) = struct.unpack_from("<Q", buf, end)
    return tags, next_ifd


def _scalar(tags: Tags, code: int, default: int | None = None) -> int:
    value = tags.get(code)
    if not value:  # absent, or present with a count of 0
        if default is None:
            raise PyramidError(f"required TIFF tag {code} missing")
        return default
    return int(value[0])


def _as_array(value: TagValue | None, typecode: str = "Q") -> array[int]:
    if value is None:
        return array(typecode)
    if isinstance(value, array) and value.typecode == typecode:
        return value
    return array(typecode, [int(v) for v in value])


def _tier(tags: Tags) -> L.TierIndex:
    width, height = _scalar(tags, L.IMAGE_WIDTH), _scalar(tags, L.IMAGE_LENGTH)
    tile_w, tile_h = _scalar(tags, L.TILE_WIDTH), _scalar(tags, L.TILE_LENGTH)
    offsets = _as_array(tags.get(L.TILE_OFFSETS))
    counts = _as_array(tags.get(L.TILE_BYTE_COUNTS))
    tier = L.TierIndex(
        width=width,
        height=height,
        tile_width=tile_w,
        tile_height=tile_h,
        compression=_scalar(tags, L.COMPRESSION, 1),
        photometric=_scalar(tags, L.PHOTOMETRIC, 1),
        n_samples=_scalar(tags, L.SAMPLES_PER_PIXEL, 1),
        bits=_scalar(tags, L.BITS_PER_SAMPLE, 8),
        predictor=_scalar(tags, L.PREDICTOR, 1),
        jpeg_tables=bytes(tags[L.JPEG_TABLES]) if L.JPEG_TABLES in tags else None,
        offsets=offsets,
        byte_counts=counts,
        edge_tiles={},
        sample_format=_scalar(tags, L.SAMPLE_FORMAT, 1),
    )
    if not (0 < width < 1 << 31 and 0 < height < 1 << 31):
        raise PyramidError(f"invalid tier size {width}x{height}")
    if not (16 <= tile_w <= 4096 and 16 <= tile_h <= 4096):
        raise PyramidError(f"invalid tile size {tile_w}x{tile_h}")
    if tier.bits not in (8, 16, 32) or not 1 <= tier.n_samples <= 4:
        raise PyramidError(f"unsupported pixel layout: {tier.n_samples} x {tier.bits} bits")
    if len(offsets) != tier.n_tx * tier.n_ty or len(counts) != len(offsets):
        raise PyramidError("tile offsets do not match the tile grid")
    edge_offsets = _as_array(tags.get(L.EDGE_OFFSETS))
    edge_counts = _as_array(tags.get(L.EDGE_BYTE_COUNTS))
    if edge_offsets:
        indexes = L.edge_tile_indexes(width, height, tile_w)
        if len(indexes) != len(edge_offsets) or len(edge_counts) != len(edge_offsets):
            raise PyramidError("edge tiles do not match the tile grid")
        tier.edge_tiles = dict(
            zip(indexes, zip(edge_offsets, edge_counts, strict=True), strict=True)
        )
    return tier


def parse_index(buf: bytes) -> PyramidIndex:
    """Parse the index; anything malformed raises :class:`PyramidError`, nothing else."""
    try:
        return _parse_index(buf)
    except (ValueError, TypeError, OverflowError, struct.error) as exc:
        raise PyramidError(f"malformed pyramid index: {exc}") from exc


def _parse_index(buf: bytes) -> PyramidIndex:
    index_size = ghost_index_size(buf)
    if len(buf) < index_size:
        raise PyramidError("index truncated")
    (offset,) = struct.unpack_from("<Q", buf, 8)
    header: L.PyramidHeader | None = None
    flat: list[L.TierIndex] = []
    while offset:
        if len(flat) >= MAX_IFDS:
            raise PyramidError("too many IFDs")
        tags, offset = _read_ifd(buf, offset)
        if header is None:
            desc = tags.get(L.IMAGE_DESCRIPTION)
            try:
                header = L.PyramidHeader.from_json(bytes(desc or b"").rstrip(b"\0").decode())
            except (TypeError, ValueError, KeyError) as exc:
                raise PyramidError("missing or malformed cytotile header") from exc
        flat.append(_tier(tags))
    if header is None or header.n_tiers < 1 or len(flat) != header.n_planes * header.n_tiers:
        raise PyramidError("IFD count does not match the header")
    n = header.n_tiers
    tiers = [flat[p * n : (p + 1) * n] for p in range(header.n_planes)]
    return PyramidIndex(header=header, tiers=tiers, index_size=index_size)
