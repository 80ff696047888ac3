"""An image as the outputs see it: its serving pyramid and, only when needed, its metadata.

Opening an image reads no manifest: a warm passthrough tile costs one ranged GET. The metadata
(channel colours, significant bits) is loaded from the manifest only when an output needs it,
and cached per pyramid digest.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from functools import cached_property, lru_cache
from typing import Any

from cytotile.errors import BadPath, ImageNotFound, NotFound
from cytotile.manifest import Manifest, pyramid_key, upload_id_of
from cytotile.pyramid import Pyramid
from cytotile.storage.base import Storage, safe_key
from cytotile.tiff.layout import PyramidHeader
from cytotile.tiff.reader import PyramidReader, open_pyramid

META_CACHE_SIZE = 256
_upload_id = lru_cache(maxsize=4096)(upload_id_of)  # a pure function of the path
_key = lru_cache(maxsize=4096)(safe_key)
_pyramid = lru_cache(maxsize=256)(Pyramid)
_meta: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
_meta_lock = threading.Lock()
NAME_CACHE_SIZE = 4096
_names: OrderedDict[tuple[str, str], str] = OrderedDict()  # (root, upload id) -> image name


def _cached_name(storage: Storage, upload_id: str) -> str | None:
    with _meta_lock:
        name = _names.get((storage.root, upload_id))
        if name is not None:
            _names.move_to_end((storage.root, upload_id))
        return name


def image_name(storage: Storage, upload_id: str) -> str:
    """The upload's image name (its original name): read once from the manifest, then cached
    (an upload's name never changes)."""
    name = _cached_name(storage, upload_id)
    if name is None:
        name = Manifest.load(storage, upload_id).original_name
        with contextlib.suppress(BadPath):  # else no request path can name it but the folder
            name = safe_key(name)
        with _meta_lock:
            _names[(storage.root, upload_id)] = name
            while len(_names) > NAME_CACHE_SIZE:
                _names.popitem(last=False)
    return name


def forget_image(storage: Storage, upload_id: str) -> None:
    with _meta_lock:
        _names.pop((storage.root, upload_id), None)
        for key in [k for k, v in _verified.items() if v == upload_id and k[0] == storage.root]:
            del _verified[key]


#: (root, request path) -> upload id, for paths already checked: one dict lookup per request
_verified: dict[tuple[str, str], str] = {}


def verified_image_path(storage: Storage, path: str) -> str | None:
    """The upload id of a path :func:`check_image_path` has accepted before, else None."""
    return _verified.get((storage.root, path))


def image_path_known(storage: Storage, path: str) -> bool:
    """Whether :func:`check_image_path` can answer without reading storage."""
    upload_id = _upload_id(path)
    return _key(path) == upload_id or _cached_name(storage, upload_id) is not None


def check_image_path(storage: Storage, path: str) -> str:
    """The upload id, when ``path`` names an image: the upload's folder (``upload-<id>``) or
    its image (``upload-<id>/<original name>``). Any other path into the folder (its manifest,
    its processed files, a made-up name) is ImageNotFound, so that no route, and above all no
    DELETE, ever acts on an upload through a path that does not name it."""
    found = _verified.get((storage.root, path))
    if found is not None:
        return found
    upload_id = _upload_id(path)
    key = _key(path)
    if key != upload_id:
        name = image_name(storage, upload_id)
        if key != f"{upload_id}/{name}":
            raise ImageNotFound(
                f"{path!r} names no image; the image of this upload is {upload_id}/{name}"
            )
    with _meta_lock:
        if len(_verified) >= NAME_CACHE_SIZE:
            _verified.clear()
        _verified[(storage.root, path)] = upload_id
    return upload_id


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

    def channel_range(self, c: int) -> tuple[float, float]:
        """[min, max] of channel ``c`` over the image: the pyramid's statistics when present
        (whole numbers for integer samples; as stored for float samples, whose range may lie
        within 0..1), else the range of the significant bits (the dtype's when unknown)."""
        stats = self.header.extra.get("stats")
        if isinstance(stats, list) and c < len(stats):
            lo, hi = stats[c]
            if self.header.pixel_type.startswith("float"):
                return float(lo), float(hi)
            return int(lo), int(hi)
        bits = self.bits
        if bits > 8:
            significant = self.meta.get("significant_bits")
            if isinstance(significant, int) and 0 < significant < bits:
                bits = significant
        return 0, (1 << bits) - 1
