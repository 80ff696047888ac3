"""A byte-range reader of the serving pyramid.

Opening cold costs at most two ranged GETs (the first 64 KiB, then the rest of the index if it
is larger); the parsed index stays in a bounded LRU shared by every request of the process, so
a warm tile costs exactly one ranged GET.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from cytotile.errors import NotFound, PyramidError
from cytotile.pyramid import Region
from cytotile.tiff import layout as L
from cytotile.tiff.parse import PyramidIndex, ghost_index_size, parse_index

if TYPE_CHECKING:
    import numpy as np

    from cytotile.storage.base import Storage

INDEX_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, str], PyramidReader] = OrderedDict()
_cache_lock = threading.Lock()


def open_pyramid(storage: Storage, key: str) -> PyramidReader:
    """The reader of ``key``, from the LRU when warm."""
    cache_key = (storage.root, key)
    with _cache_lock:
        reader = _cache.get(cache_key)
        if reader is not None:
            _cache.move_to_end(cache_key)
            return reader
    reader = PyramidReader.load(storage, key)
    with _cache_lock:
        _cache[cache_key] = reader
        while len(_cache) > INDEX_CACHE_SIZE:
            _cache.popitem(last=False)
    return reader


def forget_pyramid(storage: Storage, key: str) -> None:
    with _cache_lock:
        _cache.pop((storage.root, key), None)


class PyramidReader:
    def __init__(self, storage: Storage, key: str, index: PyramidIndex, digest: str) -> None:
        self.storage = storage
        self.key = key
        self.index = index
        self.header = index.header
        #: changes whenever the pyramid's bytes could: a strong validator for HTTP answers
        self.digest = digest

    @classmethod
    def load(cls, storage: Storage, key: str) -> PyramidReader:
        head = storage.read_range(key, 0, L.FIRST_READ)
        if not head:
            raise NotFound(f"no pyramid at {key!r}")
        size = ghost_index_size(head)
        if size > len(head):
            head += storage.read_range(key, len(head), size - len(head))
        buf = head[:size]
        digest = hashlib.blake2b(buf, digest_size=12).hexdigest()
        return cls(storage, key, parse_index(buf), digest)

    def tier(self, plane: int, level: int) -> L.TierIndex:
        try:
            return self.index.tiers[plane][level]
        except IndexError as exc:
            raise PyramidError(f"no plane {plane} level {level} in the pyramid") from exc

    def is_jpeg(self, plane: int, level: int) -> bool:
        return self.tier(plane, level).compression == L.COMPRESSION_JPEG

    def jpeg_tile(self, plane: int, level: int, tile_tx: int, tile_ty: int) -> bytes:
        """A complete JPEG of the tile at its exact size, without decoding: one ranged GET."""
        tier = self.tier(plane, level)
        ti = tile_ty * tier.n_tx + tile_tx
        if tier.compression != L.COMPRESSION_JPEG:
            raise PyramidError("tile is not JPEG-coded")
        if ti in tier.edge_tiles:
            offset, count = tier.edge_tiles[ti]
            return self.storage.read_range(self.key, offset, count)
        data = self.storage.read_range(self.key, tier.offsets[ti], tier.byte_counts[ti])
        return _with_tables(tier.jpeg_tables, data)

    def read_tile(self, plane: int, level: int, tile_tx: int, tile_ty: int) -> np.ndarray:
        """Decoded pixels of one tile, cropped to its exact size: (height, width, samples)."""
        tier = self.tier(plane, level)
        region = Region(
            tile_tx * tier.tile_width,
            tile_ty * tier.tile_height,
            min(tier.tile_width, tier.width - tile_tx * tier.tile_width),
            min(tier.tile_height, tier.height - tile_ty * tier.tile_height),
        )
        return self.read_region(plane, level, region)

    def read_region(self, plane: int, level: int, region: Region) -> np.ndarray:
        """Decoded pixels of a region of one tier, clipped to the tier."""
        import numpy as np

        tier = self.tier(plane, level)
        left, top = max(0, region.left), max(0, region.top)
        right, bottom = min(tier.width, region.right), min(tier.height, region.bottom)
        if right <= left or bottom <= top:
            raise PyramidError("region lies outside the tier")
        tw, th = tier.tile_width, tier.tile_height
        tx0, tx1 = left // tw, (right - 1) // tw
        ty0, ty1 = top // th, (bottom - 1) // th
        dtype = np.dtype(tier.dtype)
        out = np.empty((bottom - top, right - left, tier.n_samples), dtype=dtype)
        for ty in range(ty0, ty1 + 1):
            row = self._fetch_row(tier, ty, tx0, tx1)
            for tx, data in zip(range(tx0, tx1 + 1), row, strict=True):
                pixels = _decode(tier, data, dtype)
                x0, y0 = tx * tw, ty * th
                sx, sy = max(left, x0), max(top, y0)
                ex, ey = min(right, x0 + tw), min(bottom, y0 + th)
                out[sy - top : ey - top, sx - left : ex - left] = pixels[
                    sy - y0 : ey - y0, sx - x0 : ex - x0
                ]
        return out

    def _fetch_row(self, tier: L.TierIndex, ty: int, tx0: int, tx1: int) -> list[bytes]:
        """The stored bytes of tiles tx0..tx1 of row ty: contiguous, so one ranged GET."""
        first, last = ty * tier.n_tx + tx0, ty * tier.n_tx + tx1
        start = tier.offsets[first]
        end = tier.offsets[last] + tier.byte_counts[last]
        contiguous = all(
            tier.offsets[i + 1] == tier.offsets[i] + tier.byte_counts[i] for i in range(first, last)
        )
        if not contiguous:
            return [
                self.storage.read_range(self.key, tier.offsets[i], tier.byte_counts[i])
                for i in range(first, last + 1)
            ]
        blob = self.storage.read_range(self.key, start, end - start)
        if len(blob) != end - start:
            raise PyramidError("pyramid truncated")
        return [
            blob[tier.offsets[i] - start : tier.offsets[i] - start + tier.byte_counts[i]]
            for i in range(first, last + 1)
        ]


def _with_tables(tables: bytes | None, data: bytes) -> bytes:
    """Splice abbreviated JPEG tile data into a complete stream: tables then scan, one SOI/EOI."""
    if not tables:
        return data
    return tables[:-2] + data[2:]


def _decode(tier: L.TierIndex, data: bytes, dtype: np.dtype[Any]) -> np.ndarray:
    import numpy as np

    shape = (tier.tile_height, tier.tile_width, tier.n_samples)
    if tier.compression == L.COMPRESSION_JPEG:
        import simplejpeg

        colorspace = "GRAY" if tier.n_samples == 1 else "RGB"
        try:
            pixels = simplejpeg.decode_jpeg(_with_tables(tier.jpeg_tables, data), colorspace)
        except ValueError as exc:
            raise PyramidError(f"cannot decode a JPEG tile: {exc}") from exc
        decoded: np.ndarray = pixels.reshape(shape) if pixels.ndim == 2 else pixels
        return decoded
    if tier.compression in (L.COMPRESSION_DEFLATE, L.COMPRESSION_ADOBE_DEFLATE):
        try:
            data = zlib.decompress(data)
        except zlib.error as exc:
            raise PyramidError(f"cannot inflate a tile: {exc}") from exc
    elif tier.compression != L.COMPRESSION_NONE:
        raise PyramidError(f"unsupported tile compression {tier.compression}")
    # horizontal differencing is on the samples' unsigned bit patterns (floats included)
    unsigned = np.dtype(f"<u{dtype.itemsize}")
    pixels = np.frombuffer(data, dtype=unsigned)
    if pixels.size != shape[0] * shape[1] * shape[2]:
        raise PyramidError("tile has the wrong number of samples")
    pixels = pixels.reshape(shape)
    if tier.predictor == 2:
        pixels = np.cumsum(pixels, axis=1, dtype=unsigned)
    result: np.ndarray = pixels.view(dtype.newbyteorder("<")).astype(dtype, copy=False)
    return result
