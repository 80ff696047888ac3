"""An image as the outputs see it: its serving pyramid and, only when needed, its metadata.

Opening an image reads no manifest: a warm passthrough tile costs one ranged GET. The metadata
(channel colours, significant bits) is loaded from the manifest only when an output needs it,
and cached per pyramid digest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import cached_property, lru_cache
from typing import Any

from cytotile.errors import ImageNotFound, NotFound
from cytotile.manifest import Manifest, pyramid_key, upload_id_of
from cytotile.pyramid import Pyramid
from cytotile.storage.base import Storage
from cytotile.tiff.layout import PyramidHeader
from cytotile.tiff.reader import PyramidReader, open_pyramid

META_CACHE_SIZE = 256
_upload_id = lru_cache(maxsize=4096)(upload_id_of)  # a pure function of the path
_pyramid = lru_cache(maxsize=256)(Pyramid)
_meta: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
_meta_lock = threading.Lock()


class ImageView:
    def __init__(self, storage: Storage, upload_id: str, reader: PyramidReader) -> None:
        self.storage = storage
        self.upload_id = upload_id
        self.reader = reader

    @classmethod
    def open(cls, storage: Storage, path: str) -> ImageView:
        """The image a request path points into; ImageNotFound when it has no serving pyramid."""
        upload_id = _upload_id(path)
        try:
            reader = open_pyramid(storage, pyramid_key(upload_id))
        except NotFound as exc:
            raise ImageNotFound(f"no image at {upload_id!r} (missing or not converted)") from exc
        return cls(storage, upload_id, reader)

    @property
    def header(self) -> PyramidHeader:
        return self.reader.header

    @property
    def digest(self) -> str:
        return self.reader.digest

    @property
    def pyramid(self) -> Pyramid:
        return _pyramid(self.header.width, self.header.height)

    @property
    def n_channels(self) -> int:
        return self.header.n_concrete_channels * self.header.n_samples

    @property
    def bits(self) -> int:
        return 16 if self.header.pixel_type == "uint16" else 8

    @cached_property
    def meta(self) -> dict[str, Any]:
        """``manifest.image`` (empty when the manifest is unreadable)."""
        key = (self.storage.root, self.upload_id, self.digest)
        with _meta_lock:
            found = _meta.get(key)
            if found is not None:
                _meta.move_to_end(key)
                return found
        try:
            meta = Manifest.load(self.storage, self.upload_id).image or {}
        except ImageNotFound:
            meta = {}
        with _meta_lock:
            _meta[key] = meta
            while len(_meta) > META_CACHE_SIZE:
                _meta.popitem(last=False)
        return meta

    def channel_color(self, c: int) -> str | None:
        for channel in self.meta.get("channels") or []:
            if channel.get("index") == c:
                color = channel.get("color")
                return str(color) if color else None
        return None

    def channel_range(self, c: int) -> tuple[int, int]:
        """[min, max] of channel ``c`` over the image: the pyramid's statistics when present,
        else the range of the significant bits (the dtype's when unknown)."""
        stats = self.header.extra.get("stats")
        if isinstance(stats, list) and c < len(stats):
            lo, hi = stats[c]
            return int(lo), int(hi)
        bits = self.bits
        if bits > 8:
            significant = self.meta.get("significant_bits")
            if isinstance(significant, int) and 0 < significant < bits:
                bits = significant
        return 0, (1 << bits) - 1
