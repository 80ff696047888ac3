"""The import function's core: an S3 object announced by an event -> the import flow.

The object is streamed to ephemeral storage, imported under a deterministic upload id
(:func:`cytotile.aws.events.upload_id_for`) and referenced where it was uploaded (not copied).

Outcomes, for an SQS batch (partial batch response, ``ReportBatchItemFailures``):

- an import that ends DEPLOYED or ERROR_* is handled: the manifest records the status, and
  retrying would give the same answer, so the message is done;
- an object that is gone (deleted) or was replaced since the notification (another
  notification announces the new content) is skipped, and so is an object under the images
  root itself (what an import writes: importing it would loop);
- anything unexpected (S3 unavailable, access denied, a full disk) fails the message, so SQS
  delivers it again (and after ``maxReceiveCount`` moves it to the dead-letter queue). A
  message that is not an S3 notification fails too: it lands in the dead-letter queue.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cytotile.aws.events import EventError, S3ObjectRef, messages, upload_id_for
from cytotile.errors import ImageNotFound, NotFound
from cytotile.importer.flow import import_file, safe_name
from cytotile.manifest import Manifest
from cytotile.settings import ImportSettings
from cytotile.storage import open_storage
from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.aws.import")


class ObjectGone(NotFound):
    """The announced object no longer exists, or is not the content the event announced."""


def _s3_client() -> Any:
    from cytotile.storage import s3  # through the module, so tests can swap the factory

    return s3._client()


def images_storage(root: str, client: Any = None) -> Storage:
    """The storage of the images root; an ``s3://`` root uses ``client`` when one is given."""
    if root.startswith("s3://") and client is not None:
        from cytotile.storage.s3 import S3Storage

        return S3Storage.from_url(root, client=client)
    return open_storage(root)


def inside_root(ref: S3ObjectRef, root: str) -> bool:
    """Whether ``ref`` is an object the import itself writes (under the images root): importing
    it would loop when the images bucket also notifies the queue."""
    if not root.startswith("s3://"):
        return False
    parsed = urlparse(root)
    prefix = parsed.path.strip("/")
    return ref.bucket == parsed.netloc and (not prefix or ref.key.startswith(prefix + "/"))


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def download(client: Any, ref: S3ObjectRef, local: Path) -> None:
    """Stream the announced object to ``local`` (bounded memory, multipart ranged GETs).

    Raises :class:`ObjectGone` when it was deleted or replaced since the notification.
    """
    from botocore.exceptions import ClientError

    extra: dict[str, str] = {}
    try:
        if ref.version_id:
            extra["VersionId"] = ref.version_id
        elif ref.etag:
            # download_file refuses IfMatch; a HEAD checks that the content is still the one
            # announced (the transfer then pins the ETag it sees across its ranged GETs).
            client.head_object(Bucket=ref.bucket, Key=ref.key, IfMatch=f'"{ref.etag}"')
        client.download_file(ref.bucket, ref.key, str(local), ExtraArgs=extra or None)
    except ClientError as exc:
        code = _error_code(exc)
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchVersion"):
            raise ObjectGone(f"{ref.url} no longer exists") from exc
        if code in ("412", "PreconditionFailed"):
            raise ObjectGone(f"{ref.url} was replaced since the notification") from exc
        raise


def import_s3_object(ref: S3ObjectRef, settings: ImportSettings, client: Any = None) -> Manifest:
    """Import one uploaded S3 object into ``settings.root``; return its final manifest.

    Idempotent: a finished upload of the same object is returned without downloading it again.
    Raises :class:`ObjectGone`, or whatever S3 raises when it cannot be reached.
    """
    client = client if client is not None else _s3_client()
    storage = images_storage(settings.root, client)
    upload_id = upload_id_for(ref)
    try:
        previous = Manifest.load(storage, upload_id)
        if previous.status.is_final:
            log.info("%s: already imported (%s)", upload_id, previous.status.value)
            return previous
    except ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="cytotile-s3-", dir=settings.workdir or None) as tmp:
        local = Path(tmp) / safe_name(ref.basename)
        download(client, ref, local)
        return import_file(
            storage,
            local,
            name=ref.basename,
            settings=settings,
            upload_id=upload_id,
            upload_ref=ref.url,
        )


def handle_import_event(
    event: dict[str, Any],
    settings: ImportSettings,
    *,
    client: Any = None,
    on_upload: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Import every object ``event`` announces; return an SQS partial batch response.

    ``on_upload(upload_id)`` is called before each import (the handler uses it to put the
    upload id in its log lines). A direct (non-SQS) S3 event that fails re-raises instead, so
    the asynchronous invocation is retried.
    """
    failures: list[dict[str, str]] = []
    for message in messages(event):
        if message.error is not None:
            log.error("message %s is not an S3 notification: %s", message.message_id, message.error)
            if message.message_id is None:
                raise EventError(message.error)
            failures.append({"itemIdentifier": message.message_id})
            continue
        for ref in message.refs:
            if inside_root(ref, settings.root):
                log.warning("%s is inside the images root %s: not imported", ref.url, settings.root)
                continue
            upload_id = upload_id_for(ref)
            if on_upload is not None:
                on_upload(upload_id)
            try:
                manifest = import_s3_object(ref, settings, client)
            except ObjectGone as exc:
                log.warning("%s: skipped: %s", upload_id, exc.details)
                continue
            except Exception:
                log.exception(
                    "%s: import of %s failed; the message will be retried", upload_id, ref.url
                )
                if message.message_id is None:
                    raise
                failures.append({"itemIdentifier": message.message_id})
                break  # the rest of this message is retried with it (imports are idempotent)
            log.info(
                "%s: %s -> %s%s",
                upload_id,
                ref.url,
                manifest.status.value,
                f" ({manifest.reason})" if manifest.reason else "",
            )
    return {"batchItemFailures": failures}
