"""Where uploads and serving pyramids live: a local folder or an S3 prefix, behind one interface."""

from __future__ import annotations

from cytotile.storage.base import Storage, safe_key
from cytotile.storage.local import LocalStorage


def open_storage(root: str) -> Storage:
    """A storage for ``root``: ``s3://bucket/prefix`` or a local folder."""
    if root.startswith("s3://"):
        from cytotile.storage.s3 import S3Storage

        return S3Storage.from_url(root)
    return LocalStorage(root)


__all__ = ["LocalStorage", "Storage", "open_storage", "safe_key"]
