"""The storage interface and key hygiene shared by its backends."""

from __future__ import annotations

import builtins
import posixpath
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from cytotile.errors import BadPath

#: an already clean key: relative segments of ordinary characters, none of them "." or ".."
_CLEAN = re.compile(r"(?!\.\.?(?:/|$))[^/\\%~\x00-\x1f]+(?:/(?!\.\.?(?:/|$))[^/\\%\x00-\x1f]+)*")


def safe_key(path: str) -> str:
    """Normalize a relative key and refuse anything that could leave the root.

    Refused: absolute paths, ``..`` segments (also percent-encoded, once or twice), backslashes,
    NUL and other control characters, empty keys.
    """
    if _CLEAN.fullmatch(path):  # the hot path: keys the server builds itself
        return path
    decoded = path
    for _ in range(3):  # undo nested percent-encoding before judging the path
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    if not decoded or any(ord(ch) < 32 for ch in decoded) or "\\" in decoded:
        raise BadPath(f"invalid path {path!r}")
    if decoded.startswith("/") or decoded.startswith("~"):
        raise BadPath(f"absolute paths are refused: {path!r}")
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise BadPath(f"path {path!r} leaves the root")
    return posixpath.join(*parts)


class Storage(ABC):
    """Keys are ``/``-separated paths relative to the root, the same locally and on S3."""

    #: identifies the root, for caches shared across storages
    root: str

    @abstractmethod
    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (fewer at the end of the object). One request."""

    @abstractmethod
    def read(self, key: str) -> bytes: ...

    @abstractmethod
    def size(self, key: str) -> int: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Atomic: readers see the old object or the whole new one."""

    @abstractmethod
    def upload_file(self, key: str, local_path: Path) -> None:
        """Copy a local file to ``key`` (multipart on S3 for large files); atomic as above."""

    @abstractmethod
    def download_file(self, key: str, local_path: Path) -> None:
        """Stream ``key`` to a local file, in bounded memory."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix`` (recursively), in no particular order."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under ``prefix``; return how many were deleted."""

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """The file behind ``key`` when the storage is a local folder, else None."""

    def etag(self, key: str) -> str:
        """A strong validator of the object (content or version based)."""
        return f"{self.size(key):x}"

    def list_uploads(self) -> builtins.list[str]:
        """The ``upload-*`` folders at the root that hold a manifest."""
        names = set()
        for key in self.list(""):
            head, _, rest = key.partition("/")
            if head.startswith("upload-") and rest == "manifest.json":
                names.add(head)
        return sorted(names)
