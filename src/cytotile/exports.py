"""What an export sends: one stored object (the upload as uploaded, the original, the serving
pyramid...) or a folder as a zip archive written on the fly.

``resolve_image`` follows PIMS's ``GET /image/{path}/export``: the image's UPLOAD file (or
another representation when asked); ``resolve_file`` its ``GET /file/{path}/export``: a file
that plays a role in its upload (UPLOAD, ORIGINAL, SPATIAL, HISTOGRAM), or the upload folder
itself as a zip. Every read is ranged and bounded (``CHUNK``); nothing here knows HTTP.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

from cytotile.errors import BadParameter, NotFound
from cytotile.manifest import FileEntry, Manifest, upload_id_of
from cytotile.storage.base import Storage, safe_key

CHUNK = 1 << 20
ROLES = ("UPLOAD", "ORIGINAL", "SPATIAL", "HISTOGRAM")


@dataclass(frozen=True)
class Export:
    """``keys``: one key (a file) or the keys of a folder (a zip); ``bucket``: set when the
    object is a reference into another S3 bucket (``s3://bucket/key``)."""

    name: str  # the suggested file name
    keys: tuple[str, ...]
    folder: str | None = None  # the folder the zip's entries are relative to
    bucket: str | None = None

    @property
    def is_zip(self) -> bool:
        return self.folder is not None


def _of_entry(storage: Storage, entry: FileEntry, name: str) -> Export:
    if entry.key.startswith("s3://"):
        ref = urlparse(entry.key)
        return Export(name, (ref.path.lstrip("/"),), bucket=ref.netloc)
    if storage.exists(entry.key):
        return Export(name, (entry.key,))
    return folder_export(storage, entry.key, name)  # a multi-file original: a folder


def folder_export(storage: Storage, folder: str, name: str) -> Export:
    keys = tuple(sorted(storage.list(folder)))
    if not keys:
        raise NotFound(f"nothing to export at {folder!r}")
    return Export(name if name.endswith(".zip") else f"{name}.zip", keys, folder)


def resolve_image(storage: Storage, path: str, representation: str = "UPLOAD") -> Export:
    manifest = Manifest.load(storage, upload_id_of(path))
    role = representation.strip().upper()
    if role not in ROLES:
        raise BadParameter(f"representation: {representation!r} is not one of {', '.join(ROLES)}")
    entry = manifest.file(role)
    if entry is None:
        raise NotFound(f"{manifest.id} has no {role} file")
    name = manifest.original_name if role in ("UPLOAD", "ORIGINAL") else entry.key.rsplit("/")[-1]
    return _of_entry(storage, entry, name)


def resolve_file(storage: Storage, path: str) -> Export:
    key = safe_key(path)
    upload_id = upload_id_of(key)
    manifest = Manifest.load(storage, upload_id)
    if key == upload_id:
        return folder_export(storage, upload_id, upload_id)
    for entry in manifest.files:
        upload_name = entry.role == "UPLOAD" and key == f"{upload_id}/{manifest.original_name}"
        if entry.role in ROLES and (entry.key == key or upload_name):
            return _of_entry(storage, entry, key.rsplit("/", 1)[-1])
    if storage.exists(key):
        raise BadParameter(f"{path!r} plays no role in its upload (UPLOAD, ORIGINAL, SPATIAL...)")
    raise NotFound(f"no file {path!r}")


def size_of(storage: Storage, export: Export) -> int:
    return sum(storage.size(k) for k in export.keys)


def read_chunks(storage: Storage, key: str) -> Iterator[bytes]:
    """The object's bytes, ``CHUNK`` at a time (one ranged read each)."""
    offset = 0
    while True:
        data = storage.read_range(key, offset, CHUNK)
        if not data:
            return
        yield data
        offset += len(data)
        if len(data) < CHUNK:
            return


class _Sink:
    """A write-only, unseekable file: zipfile then writes data descriptors, and what it wrote
    is taken out after every chunk."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def zip_chunks(storage: Storage, export: Export) -> Iterator[bytes]:
    """A zip of the folder's objects (stored, not deflated: images are compressed already;
    ZIP64 so that any size fits), produced as it is read: memory stays at about ``CHUNK``."""
    assert export.folder is not None
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:  # type: ignore[call-overload]
        for key in export.keys:
            arcname = key[len(export.folder) :].lstrip("/") or key.rsplit("/", 1)[-1]
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as entry:
                for data in read_chunks(storage, key):
                    entry.write(data)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
