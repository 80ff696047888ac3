"""Storage space, as PIMS answers it: ``GET /storage/size.json`` (IMS v1, which Cytomine's
core reads) and ``GET /disk-usage`` (PIMS v2).

Local storage: the file system holding the root (``shutil.disk_usage``), and the bytes of the
files under the root. S3 has no capacity: the bytes of the objects under the root are counted
(one listing, 1000 objects a request) and the file-system members (``available``, ``total``,
``usedP``, ``mount_*``) are null. Like PIMS's ``hostname`` and ``ip``, ``mount`` is always null:
cytotile never shows where its storage is (``info.readable_settings``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.http import JSON
from cytotile.api.openapi import Op
from cytotile.api.routing import context, route
from cytotile.pipeline.args import Args
from cytotile.storage.base import Storage
from cytotile.storage.local import LocalStorage

NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Usage:
    root_bytes: int  # of what is stored under the root
    total: int | None = None  # of the file system holding it (None: no such limit, S3)
    free: int | None = None  # available to this process
    used: int | None = None  # by everything on that file system

    def percent(self, part: int | None) -> float | None:
        return None if part is None or not self.total else 100.0 * part / self.total


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links not followed)."""
    total, pending = 0, [folder]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def s3_bytes(storage: Any) -> int:
    prefix = storage.prefix + "/" if storage.prefix else ""
    paginator = storage.client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=storage.bucket, Prefix=prefix)
    return sum(obj["Size"] for page in pages for obj in page.get("Contents", []))


def measure(storage: Storage) -> Usage:
    if not isinstance(storage, LocalStorage):  # S3
        return Usage(s3_bytes(storage))
    disk = shutil.disk_usage(storage.base)
    return Usage(tree_bytes(storage.base), disk.total, disk.free, disk.used)


def size_v1(request: Request, args: Args) -> Response:
    """PIMS's ``show_disk_usage_v1``: ``usedP`` is a fraction (0-1) despite its name."""
    usage = measure(context(request).storage)
    percent = usage.percent(usage.used)
    return JSON(
        {
            "used": usage.used if usage.total is not None else usage.root_bytes,
            "available": usage.free,
            "usedP": None if percent is None else percent / 100,
            "total": usage.total,
            "hostname": None,
            "mount": None,
            "ip": None,
        },
        headers=NO_STORE,
    )


def disk_usage(request: Request, args: Args) -> Response:
    usage = measure(context(request).storage)
    return JSON(
        {
            "mount": None,
            "mount_available_size": usage.free,
            "mount_total_size": usage.total,
            "mount_used_size": usage.used,
            "mount_used_size_percentage": usage.percent(usage.used),
            "used_size": usage.root_bytes,
            "used_size_percentage": usage.percent(usage.root_bytes),
        },
        headers=NO_STORE,
    )


SIZE_DOC = Op(
    "Storage space (IMS v1, read by Cytomine's core)",
    "`used`, `available` and `total`: bytes of the file system holding the root (used by "
    "everything on it, available to the server, its size); `usedP`: used / total as a "
    "fraction (0-1), as PIMS answers it. On S3 (no capacity) `used` is the bytes of the "
    "objects under the root and `available`, `total`, `usedP` are null. `hostname`, `mount` "
    "and `ip` are always null (storage locations are never shown).",
    tags=["housekeeping"],
)
USAGE_DOC = Op(
    "Disk usage (PIMS v2)",
    "`mount_*`: the file system holding the root, in bytes and % of its size (null on S3); "
    "`used_size`: bytes stored under the root (every object on S3), and its % of the file "
    "system's size. `mount` is always null (storage locations are never shown).",
    tags=["housekeeping"],
)


def routes() -> list[BaseRoute]:
    return [
        route("/storage/size.json", size_v1, doc=SIZE_DOC),
        route("/disk-usage", disk_usage, doc=USAGE_DOC),
    ]
