"""The child side of a collection on S3: which enqueued children are real, and the parent's
manifest kept in step with its children's final statuses.

**Checks.** A message naming a parent is only imported when the parent's own records say it is
its child: an archive's member must be the object the extraction wrote
(:func:`cytotile.aws.importer.is_member`); an image of a file holding several
(:mod:`cytotile.importer.series`) must be listed in the parent's manifest (same id, index and
name) and name the object the parent's UPLOAD is. A forged message imports nothing.

**The parent's manifest.** Listings (``GET /uploads``, PIMS's file info) read each child's
status from the child's own manifest, live. The stored manifest of the parent is made right
too: when a child enqueued by its parent reaches a final status, its invocation writes that
status (and its reason) into the parent's ``children`` under the parent's import lease, the
same lease that guards the parent's own import (so the parent's last save, which lists its
children as UPLOADED, cannot overwrite a child's report: the parent holds the lease until it is
EXTRACTED). Every delivery of a finished child reports again (idempotent), so a parent saved
again by a retried import is put right by the duplicates its retry enqueues.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlparse

from cytotile.aws import lease as leases
from cytotile.aws.events import S3ObjectRef
from cytotile.errors import ImageNotFound
from cytotile.manifest import Manifest
from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.aws.children")

#: how long a finished child waits for its parent's lease before its message is retried
WAIT_S = 20.0
POLL_S = 0.5
LEASE_S = 60.0  # the report takes a read and a write


def object_of(key: str, storage: Storage) -> tuple[str, str]:
    """(bucket, key) of a manifest's file key: an ``s3://`` reference, or a key of ``storage``."""
    if key.startswith("s3://"):
        parsed = urlparse(key)
        return parsed.netloc, parsed.path.lstrip("/")
    bucket, prefix = getattr(storage, "bucket", ""), getattr(storage, "prefix", "")
    return bucket, f"{prefix}/{key}" if prefix else key


def is_series_child(ref: S3ObjectRef, storage: Storage) -> bool:
    """Whether ``ref`` announces an image its parent's manifest lists, of the parent's file."""
    from cytotile.importer.series import series_child_id

    if ref.parent is None or ref.series is None or not ref.parent.startswith("upload-"):
        return False
    try:
        parent = Manifest.load(storage, ref.parent)
    except (ImageNotFound, ValueError):
        return False
    upload = parent.file("UPLOAD")
    wanted = {"id": series_child_id(parent.id, ref.series), "series": ref.series}
    listed = [c for c in parent.children if all(c.get(k) == v for k, v in wanted.items())]
    if upload is None or len(listed) != 1 or listed[0].get("name") != ref.name:
        return False
    return object_of(upload.key, storage) == (ref.bucket, ref.key)


class ParentBusy(Exception):
    """The parent's lease stayed held: the child's message comes back later to report."""

    def __init__(self, held: leases.LeaseHeld) -> None:
        super().__init__(f"cannot record a child's status in its parent: {held}")
        self.expires_at = held.expires_at


def report_to_parent(storage: Storage, child: Manifest, wait_s: float | None = None) -> bool:
    """Write ``child``'s final status into its parent's ``children``; whether it changed
    anything. Raises :class:`ParentBusy` when the parent's lease stays held ``wait_s``
    (:data:`WAIT_S` by default)."""
    if child.parent is None or not child.status.is_final:
        return False
    give_up = time.monotonic() + (WAIT_S if wait_s is None else wait_s)
    while True:
        try:
            held = leases.acquire(storage, child.parent, LEASE_S)
            break
        except leases.LeaseHeld as exc:
            if time.monotonic() >= give_up:
                raise ParentBusy(exc) from exc
            time.sleep(POLL_S)
    try:
        try:
            parent = Manifest.load(storage, child.parent)
        except ImageNotFound:
            return False  # the parent was deleted meanwhile
        return _update(storage, parent, child)
    finally:
        leases.release(storage, held)


def _update(storage: Storage, parent: Manifest, child: Manifest) -> bool:
    entry: dict[str, Any] | None = next(
        (c for c in parent.children if c.get("id") == child.id), None
    )
    if entry is None:
        return False
    wanted = {"status": child.status.value, "reason": child.reason}
    if all(entry.get(k) == v for k, v in wanted.items()):
        return False
    entry.update(wanted)
    parent.save(storage)
    log.info("%s: child %s recorded as %s", parent.id, child.id, child.status.value)
    return True
