"""One import of an upload at a time: a lease object beside its manifest.

S3 and SQS deliver at least once: the same notification can reach two import functions at the
same time. Before importing, a function takes the lease ``upload-<id>/import.lease`` with a
conditional write (``PutObject`` with ``If-None-Match: *``: only one writer can create it);
the other sees it held and lets SQS deliver its message again later, when the upload is
finished (then returned as it is) or its importer is gone.

A lease expires (``expires_at``, written in it): an importer that was killed (Lambda's timeout,
out of memory) cannot release it, and its retry takes it over once expired, with a write
conditional on the expired lease's ETag (``If-Match``), so that two retries cannot both take it
over. The lease lasts as long as the invocation can (its remaining time, plus a margin): it
only expires once its holder is surely gone. Releasing deletes it.

On a local folder (``cytotile import`` tests, a local images root) the same rules hold with an
exclusive ``flock``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.aws.lease")

LEASE_NAME = "import.lease"
ATTEMPTS = 4  # acquire: create, or read and take over; again when the lease vanished between


@dataclass(frozen=True)
class Lease:
    upload_id: str
    owner: str
    expires_at: float
    etag: str = ""


class LeaseHeld(Exception):
    """Another importer holds the upload's lease until ``expires_at``."""

    def __init__(self, upload_id: str, expires_at: float) -> None:
        super().__init__(f"{upload_id} is being imported (lease until {expires_at:.0f})")
        self.upload_id = upload_id
        self.expires_at = expires_at


def lease_key(upload_id: str) -> str:
    return f"{upload_id}/{LEASE_NAME}"


def _body(lease: Lease) -> bytes:
    return json.dumps(
        {"owner": lease.owner, "expires_at": lease.expires_at, "taken_at": time.time()}
    ).encode()


def _expires_at(body: bytes) -> float:
    try:
        return float(json.loads(body)["expires_at"])
    except (ValueError, KeyError, TypeError):
        return 0.0  # unreadable: as good as expired


def acquire(storage: Storage, upload_id: str, ttl_s: float) -> Lease:
    """Take the lease of ``upload_id`` for ``ttl_s`` seconds, or raise :class:`LeaseHeld`."""
    lease = Lease(upload_id, uuid.uuid4().hex, time.time() + ttl_s)
    from cytotile.storage.s3 import S3Storage

    if isinstance(storage, S3Storage):
        return _S3(storage).acquire(lease)
    folder = storage.local_path(upload_id)
    if folder is None:
        raise TypeError(f"no lease on {type(storage).__name__}")
    return _acquire_local(folder, lease)


def release(storage: Storage, lease: Lease) -> None:
    """Give the lease up (best effort: an expired lease is as good as released)."""
    try:
        from cytotile.storage.s3 import S3Storage

        if isinstance(storage, S3Storage):
            _S3(storage).release(lease)
        else:
            folder = storage.local_path(lease.upload_id)
            if folder is not None:
                (folder / LEASE_NAME).unlink(missing_ok=True)
    except Exception:
        log.warning("cannot release the lease of %s", lease.upload_id, exc_info=True)


class _S3:
    def __init__(self, storage: Any) -> None:
        self.client = storage.client
        self.bucket = storage.bucket
        self.prefix = storage.prefix

    def key(self, upload_id: str) -> str:
        key = lease_key(upload_id)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, lease: Lease, **condition: str) -> Lease | None:
        """Write ``lease`` if ``condition`` holds; None when it does not."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(lease.upload_id),
                Body=_body(lease),
                ContentType="application/json",
                **condition,
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            # 412: the condition failed; 409: a concurrent conditional write won
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return None
            if code in ("NoSuchKey", "404") and "IfMatch" in condition:
                return None  # released meanwhile: start over
            raise
        return Lease(lease.upload_id, lease.owner, lease.expires_at, str(answer.get("ETag", "")))

    def read(self, upload_id: str) -> tuple[float, str] | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(upload_id))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in ("NoSuchKey", "404"):
                return None
            raise
        return _expires_at(answer["Body"].read()), str(answer["ETag"])

    def acquire(self, lease: Lease) -> Lease:
        for _ in range(ATTEMPTS):
            taken = self.put(lease, IfNoneMatch="*")
            if taken is not None:
                return taken
            current = self.read(lease.upload_id)
            if current is None:
                continue  # released between the two requests
            expires_at, etag = current
            if expires_at > time.time():
                raise LeaseHeld(lease.upload_id, expires_at)
            log.warning("%s: taking over an expired import lease", lease.upload_id)
            taken = self.put(lease, IfMatch=etag)
            if taken is not None:
                return taken
        raise LeaseHeld(lease.upload_id, time.time())  # contended: let the queue retry

    def release(self, lease: Lease) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(lease.upload_id))


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / (LEASE_NAME + ".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire_local(folder: Path, lease: Lease) -> Lease:
    path = folder / LEASE_NAME
    with _locked(folder):
        if path.exists():
            expires_at = _expires_at(path.read_bytes())
            if expires_at > time.time():
                raise LeaseHeld(lease.upload_id, expires_at)
        path.write_bytes(_body(lease))
    return lease
