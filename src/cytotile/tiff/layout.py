"""The serving pyramid's on-disk layout, shared by its writer and its byte-range reader.

A little-endian BigTIFF, laid out so that everything needed to find a tile sits at the start:

    0       BigTIFF header (16 bytes), first IFD at 16 + GHOST_SIZE
    16      ghost area: ``CYTOTILE-PYRAMID <version> index=<n bytes>`` padded to GHOST_SIZE
    ...     every IFD with its out-of-line values (tile offsets, byte counts, JPEG tables)
    index   tile data, plane by plane, tier by tier, row-major
    ...     exact-size JPEGs of the right and bottom edge tiles (passthrough for partial tiles)

(The DCT path writes its tiles as they are made, :mod:`cytotile.tiff.streamed`: each row of a
tier contiguous, its edge JPEGs after it, the tiers' rows interleaved. Readers go through the
index; a row of tiles is one ranged read either way.)

One IFD per (plane, level), plane-major: IFD ``plane * n_tiers + level``. Plane index is
``(t * depth + z) * n_concrete_channels + c``. IFD 0's ImageDescription holds a JSON header
(:class:`PyramidHeader`). Standard TIFF readers see a valid tiled pyramid (edge tiles padded to
256, as TIFF requires); cytotile's reader also uses two private tags listing the exact-size edge
JPEGs, in tile-index order of the edge tiles.
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import asdict, dataclass, field

GHOST_SIZE = 48
GHOST_PREFIX = b"CYTOTILE-PYRAMID "
GHOST_RE = re.compile(rb"CYTOTILE-PYRAMID (\d+) index=(\d+)")
FORMAT_VERSION = 1
FIRST_READ = 64 * 1024  # bytes read on a cold open; the index is fetched whole in at most two

# TIFF tags
NEW_SUBFILE_TYPE = 254
IMAGE_WIDTH = 256
IMAGE_LENGTH = 257
BITS_PER_SAMPLE = 258
COMPRESSION = 259
PHOTOMETRIC = 262
IMAGE_DESCRIPTION = 270
SAMPLES_PER_PIXEL = 277
PLANAR_CONFIG = 284
SOFTWARE = 305
PREDICTOR = 317
TILE_WIDTH = 322
TILE_LENGTH = 323
TILE_OFFSETS = 324
TILE_BYTE_COUNTS = 325
SAMPLE_FORMAT = 339
JPEG_TABLES = 347
EDGE_OFFSETS = 65080  # private: offsets of exact-size edge-tile JPEGs
EDGE_BYTE_COUNTS = 65081

COMPRESSION_NONE = 1
COMPRESSION_JPEG = 7
COMPRESSION_DEFLATE = 8
COMPRESSION_ADOBE_DEFLATE = 32946

# TIFF field types: code -> (struct char, size)
TYPES: dict[int, tuple[str, int]] = {
    1: ("B", 1),  # BYTE
    2: ("s", 1),  # ASCII
    3: ("H", 2),  # SHORT
    4: ("I", 4),  # LONG
    5: ("II", 8),  # RATIONAL
    6: ("b", 1),
    7: ("B", 1),  # UNDEFINED
    8: ("h", 2),
    9: ("i", 4),
    10: ("ii", 8),
    11: ("f", 4),
    12: ("d", 8),
    16: ("Q", 8),  # LONG8
    17: ("q", 8),
    18: ("Q", 8),  # IFD8
}
SHORT, LONG, ASCII, UNDEFINED, LONG8 = 3, 4, 2, 7, 16


@dataclass
class PyramidHeader:
    """The JSON header stored in IFD 0's ImageDescription."""

    width: int
    height: int
    n_tiers: int
    n_concrete_channels: int = 1
    depth: int = 1
    duration: int = 1
    n_samples: int = 3
    pixel_type: str = "uint8"
    version: int = FORMAT_VERSION
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def n_planes(self) -> int:
        return self.n_concrete_channels * self.depth * self.duration

    def plane_index(self, c: int = 0, z: int = 0, t: int = 0) -> int:
        return (t * self.depth + z) * self.n_concrete_channels + c

    def to_json(self) -> str:
        return json.dumps({"cytotile": asdict(self)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PyramidHeader:
        header = cls(**json.loads(text)["cytotile"])
        counts = (
            header.width,
            header.height,
            header.n_tiers,
            header.n_concrete_channels,
            header.depth,
            header.duration,
            header.n_samples,
        )
        if not all(isinstance(n, int) and 0 < n < 1 << 31 for n in counts):
            raise ValueError("invalid sizes in the pyramid header")
        if not isinstance(header.extra, dict):
            raise ValueError("invalid extra in the pyramid header")
        return header


@dataclass
class TierIndex:
    """Where one (plane, level) keeps its tiles, and how they are coded."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    compression: int
    photometric: int
    n_samples: int
    bits: int
    predictor: int
    jpeg_tables: bytes | None
    offsets: array[int]
    byte_counts: array[int]
    edge_tiles: dict[int, tuple[int, int]]  # tile index -> (offset, byte count)
    sample_format: int = 1  # 1 unsigned integer, 3 IEEE float (32-bit planes)

    @property
    def dtype(self) -> str:
        """numpy type of the samples: uint8, uint16, uint32 or float32."""
        if self.bits == 32:
            return "float32" if self.sample_format == 3 else "uint32"
        return "uint16" if self.bits == 16 else "uint8"

    @property
    def n_tx(self) -> int:
        return -(-self.width // self.tile_width)

    @property
    def n_ty(self) -> int:
        return -(-self.height // self.tile_height)


def edge_tile_indexes(width: int, height: int, tile: int = 256) -> list[int]:
    """Tile indexes (row-major) of the tiles smaller than ``tile`` in either dimension."""
    n_tx, n_ty = -(-width // tile), -(-height // tile)
    partial_x = width % tile != 0
    partial_y = height % tile != 0
    return [
        ty * n_tx + tx
        for ty in range(n_ty)
        for tx in range(n_tx)
        if (partial_x and tx == n_tx - 1) or (partial_y and ty == n_ty - 1)
    ]
