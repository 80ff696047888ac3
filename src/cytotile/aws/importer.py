"""The import function's core: an S3 object announced by an event -> the import flow.

The object is streamed to ephemeral storage, imported under a deterministic upload id
(:func:`cytotile.aws.events.upload_id_for`) and referenced where it was uploaded (not copied);
the pyramid goes back with multipart uploads.

Exactly once, whatever S3 and SQS do:

- a finished upload (DEPLOYED or ERROR_*) is returned as it is: a redelivered notification does
  nothing, and does not download the object again; but a Cytomine upload whose core did not
  answer while its image was registered: that delivery failed its message, and the next one
  registers what the core misses (:func:`cytotile.aws.cytomine.registration_due`);
- an upload being imported is guarded by a lease (:mod:`cytotile.aws.lease`): a concurrent
  duplicate delivery does not start a second import of the same id; its message comes back
  when the lease expires;
- a failure that is not the input's fault (S3 unavailable, an unexpected exception, a full
  disk) fails the message, which SQS delivers again (sooner than the queue's visibility
  timeout: :mod:`cytotile.aws.queue`); the retry starts over, under the same id, and an
  interrupted (non-final) manifest does not block it;
- the last delivery (``ApproximateReceiveCount`` >= ``max_receive_count``) that fails records
  ERROR_* with the reason in the manifest, and still fails the message, which SQS then moves to
  the dead-letter queue. If the previous delivery was killed in the middle of a step (out of
  memory, or time), the last one records that instead of trying a third time.

Lambda's envelope is checked, never discovered: an upload whose pyramid cannot fit in the
ephemeral storage ends ERROR_CONVERSION before anything is downloaded, and every isolated step
ends before the invocation does (the deadline), so a too long conversion ends ERROR_CONVERSION
"did not finish within Lambda's 15 minutes": recorded, not retried. Objects deleted or replaced
since their notification are skipped, and so are objects under the images root (what an import
writes: importing it would loop), but for an archive's members announced by the import itself.

Collections: an archive's members are extracted to ``upload-<archive>/extracted/...`` of the
images bucket (the images of a file holding several stay in its own object) and, when
``import_queue_url`` is set (the template sets it), each image among them is enqueued as one
message on the import queue (:func:`queue_children`), then the archive ends EXTRACTED.
Each child is then imported in its own invocation, with its own 15 minutes, like any upload:
its id is derived from the archive's id and the member's path, so the lease, the idempotency
of a finished upload and the last-delivery rules hold for it as they do for an upload. A
retried archive (killed after enqueuing some) enqueues them again: the duplicates find their
upload finished or leased. Without a queue, the children are imported one after the other in
the archive's own invocation (each step still bounded by its deadline). A child's final status
is written into its parent's manifest (:mod:`cytotile.aws.children`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from cytotile.aws import cytomine, queue
from cytotile.aws import lease as leases
from cytotile.aws.children import ParentBusy, is_series_child, object_of, report_to_parent
from cytotile.aws.events import (
    EventError,
    Message,
    S3ObjectRef,
    child_notification,
    messages,
    upload_id_for,
)
from cytotile.errors import ExtractionError, ImageNotFound, NotFound
from cytotile.importer.archives import extracted_key, member_parts
from cytotile.importer.archives_collection import Child, ChildImporter, import_inline
from cytotile.importer.flow import (
    _Run,
    describe,
    import_file,
    is_retryable,
    record_failure,
    safe_name,
)
from cytotile.manifest import Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage import open_storage
from cytotile.storage.base import Storage

if TYPE_CHECKING:
    from cytotile.importer.core_callback import CytomineListener

log = logging.getLogger("cytotile.aws.import")

GB = 1e9
#: the pyramid and the conversion's scratch files, relative to the upload's size
PYRAMID_FACTOR = 2.0
#: seconds kept at the end of an invocation to record an outcome
MARGIN_S = 30.0
#: bytes per second assumed to upload the pyramid (kept out of the steps' deadline)
DEPLOY_RATE = 100e6
#: seconds a lease outlives its invocation's end (by then its holder is surely gone)
LEASE_MARGIN_S = 60.0
#: lease length without a Lambda context
DEFAULT_LEASE_S = 3600.0
#: MB of the function's memory kept for the handler, when the function's memory bounds the steps
HANDLER_MEMORY_MB = 512
#: a step the function was killed in -> the status its upload ends in on the last delivery
KILLED_IN = {
    Status.DETECTING_FORMAT: Status.ERROR_FORMAT,
    Status.EXTRACTING_DATA: Status.ERROR_EXTRACTION,
    Status.CONVERTING: Status.ERROR_CONVERSION,
}


class ObjectGone(NotFound):
    """The announced object no longer exists, or is not the content the event announced."""


class GaveUp(Exception):
    """The last delivery failed: ERROR_* is recorded in ``manifest``; the message must still
    fail (to the dead-letter queue)."""

    def __init__(self, manifest: Manifest) -> None:
        super().__init__(manifest.reason or manifest.status.value)
        self.manifest = manifest


class Outcome(StrEnum):
    DONE = "DONE"  # a final manifest (imported now, or before)
    SKIPPED = "SKIPPED"  # nothing to import
    IN_PROGRESS = "IN_PROGRESS"  # another delivery holds the lease: retried later
    RETRY = "RETRY"  # failed, SQS delivers it again
    GAVE_UP = "GAVE_UP"  # the last delivery failed: ERROR_* recorded, to the dead-letter queue

    @property
    def fails_message(self) -> bool:
        return self in (Outcome.IN_PROGRESS, Outcome.RETRY, Outcome.GAVE_UP)


@dataclass(frozen=True)
class Delivery:
    """Where an import stands among the deliveries of its message."""

    receive_count: int = 1
    max_receive_count: int = 0  # 0: unknown, never the last
    #: time.time() when the invocation ends (0: no Lambda context)
    ends_at: float = 0.0
    #: the invocation's time when it started (names the deadline: "Lambda's 15 minutes")
    budget_s: float = 0.0

    @property
    def is_last(self) -> bool:
        return 0 < self.max_receive_count <= self.receive_count

    @property
    def remaining_s(self) -> float | None:
        return self.ends_at - time.time() if self.ends_at else None


@dataclass
class Result:
    """What became of one announced object."""

    ref: S3ObjectRef
    upload_id: str
    outcome: Outcome
    manifest: Manifest | None = None
    #: whether this delivery imported it (or recorded its failure), and how long that took
    imported: bool = False
    seconds: float = 0.0
    reason: str = ""
    #: when the message should come back (retries), in seconds
    retry_after_s: float | None = None
    error: BaseException | None = None


class Observer(Protocol):
    """Told about each import (the handler's logger and metrics)."""

    def started(self, upload_id: str) -> None: ...

    def finished(self, result: Result) -> None: ...


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


def is_member(ref: S3ObjectRef, root: str) -> bool:
    """Whether ``ref`` announces an archive's member where the import puts it (the only objects
    under the images root that are imported)."""
    if ref.parent is None or ref.member is None or not root.startswith("s3://"):
        return False
    try:
        if "/".join(member_parts(ref.member)) != ref.member:
            return False
    except ExtractionError:
        return False
    parsed = urlparse(root)
    prefix = parsed.path.strip("/")
    key = extracted_key(ref.parent, ref.member)
    key = f"{prefix}/{key}" if prefix else key
    return ref.parent.startswith("upload-") and (ref.bucket, ref.key) == (parsed.netloc, key)


def queue_children(
    queue_url: str, storage: Storage, client: Any = None, cytomine: str | None = None
) -> ChildImporter:
    """A collection's children (an archive's members, the images of a file holding several)
    enqueued on the import queue, one message each (in batches of 10); a failed send fails the
    collection's import, which SQS delivers again. ``cytomine``: the collection's Cytomine
    context, handed to each child (registered in the core as a child of the collection's)."""

    def enqueue(run: _Run, children: list[Child]) -> None:
        sqs = client if client is not None else queue._sqs_client(None)
        entries = []
        for index, c in enumerate(children):
            bucket, key = object_of(c.key, storage)
            if c.series is None:
                body = child_notification(
                    bucket, key, c.size, run.manifest.id, c.path, cytomine=cytomine
                )
            else:  # an image of the parent's own file
                body = child_notification(
                    bucket, key, c.size, run.manifest.id, None,
                    series=c.series, name=c.name, cytomine=cytomine,
                )  # fmt: skip
            entries.append({"Id": str(index), "MessageBody": body})
        for start in range(0, len(entries), 10):
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries[start : start + 10])
            if answer.get("Failed"):
                raise RuntimeError(f"cannot enqueue an archive's member: {answer['Failed'][0]}")
        log.info("%s: %d members enqueued", run.manifest.id, len(children))

    return enqueue


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _gone(exc: Exception, ref: S3ObjectRef) -> None:
    code = _error_code(exc)
    if code in ("404", "NoSuchKey", "NotFound", "NoSuchVersion"):
        raise ObjectGone(f"{ref.url} no longer exists") from exc
    if code in ("412", "PreconditionFailed"):
        raise ObjectGone(f"{ref.url} was replaced since the notification") from exc


def object_size(client: Any, ref: S3ObjectRef) -> int:
    """The announced object's size: from the event, else a HEAD (ObjectGone when it is)."""
    if ref.size is not None:
        return ref.size
    from botocore.exceptions import ClientError

    try:
        return int(client.head_object(Bucket=ref.bucket, Key=ref.key)["ContentLength"])
    except ClientError as exc:
        _gone(exc, ref)
        raise


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
        _gone(exc, ref)
        raise


def _gb(n: float) -> str:
    return f"{n / GB:.1f} GB"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 90 else f"{seconds:.0f} seconds"


def disk_shortage(size: int, workdir: str) -> str | None:
    """Why an upload of ``size`` bytes cannot be imported in ``workdir``'s free space, if so."""
    needed = size * (1 + PYRAMID_FACTOR)
    free = shutil.disk_usage(workdir or tempfile.gettempdir()).free
    if needed <= free:
        return None
    return (
        f"the upload ({_gb(size)}) and its pyramid need about {_gb(needed)} of ephemeral "
        f"storage, the function has {_gb(free)} (Lambda's largest is 10 GB)"
    )


def step_memory_mb(settings: ImportSettings) -> int:
    """The isolated steps' memory limit: below the function's memory on Lambda (unless set), so
    a slide that needs more ends ERROR_CONVERSION instead of the function being killed."""
    function_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if not function_mb or "CYTOTILE_MEMORY_MB" in os.environ:
        return settings.memory_mb
    return max(256, min(settings.memory_mb, int(function_mb) - HANDLER_MEMORY_MB))


def delivery_settings(settings: ImportSettings, delivery: Delivery, size: int) -> ImportSettings:
    """The settings of one import: the steps end before the invocation, with time kept to
    upload the pyramid and record the outcome."""
    changes: dict[str, Any] = {"memory_mb": step_memory_mb(settings)}
    remaining = delivery.remaining_s
    if remaining is not None:
        reserve = MARGIN_S + PYRAMID_FACTOR * size / DEPLOY_RATE
        changes["deadline"] = delivery.ends_at - reserve
        changes["deadline_name"] = f"Lambda's {_duration(max(delivery.budget_s, remaining))}"
    return dataclasses.replace(settings, **changes)


def _load(storage: Storage, upload_id: str) -> Manifest | None:
    try:
        return Manifest.load(storage, upload_id)
    except ImageNotFound:
        return None


def _killed(manifest: Manifest) -> bool:
    """Whether the attempt that wrote this non-final manifest stopped without recording an
    outcome (an attempt that failed and asked for a retry records "interrupted")."""
    return not manifest.history or manifest.history[-1].get("phase") != "interrupted"


def import_s3_object(
    ref: S3ObjectRef,
    settings: ImportSettings,
    client: Any = None,
    *,
    delivery: Delivery | None = None,
) -> Manifest:
    """Import one uploaded S3 object into ``settings.root``; return its final manifest.

    Idempotent: a finished upload of the same object is returned without downloading it again.
    Raises :class:`ObjectGone`, :class:`~cytotile.aws.lease.LeaseHeld` (another delivery is
    importing it), :class:`GaveUp` (the last delivery failed: ERROR_* recorded), or what made
    the import fail when it may succeed later.
    """
    return _import_s3_object(ref, settings, client, delivery or Delivery())[0]


def _import_s3_object(
    ref: S3ObjectRef, settings: ImportSettings, client: Any, delivery: Delivery
) -> tuple[Manifest, bool]:
    """:func:`import_s3_object`, and whether this call imported (or recorded) it."""
    client = client if client is not None else _s3_client()
    storage = images_storage(settings.root, client)
    upload_id = upload_id_for(ref)
    previous = _load(storage, upload_id)
    if (
        previous is not None
        and previous.status.is_final
        and not cytomine.registration_due(ref, storage, previous)  # or the core was down
    ):
        log.info("%s: already imported (%s)", upload_id, previous.status.value)
        return previous, False
    remaining = delivery.remaining_s
    ttl = remaining + LEASE_MARGIN_S if remaining is not None else DEFAULT_LEASE_S
    lease = leases.acquire(storage, upload_id, ttl)
    try:
        previous = _load(storage, upload_id)  # again, now that no one else can write it
        if previous is not None and previous.status.is_final:
            if cytomine.registration_due(ref, storage, previous):  # the core was down
                listener = cytomine.register_again(ref, settings, storage, previous)
                _registered_or_retry(ref, storage, previous, listener, delivery)
            return previous, False
        if previous is not None and delivery.is_last and _killed(previous):
            step = previous.status
            reason = (
                f"the import function stopped during {step.value} without recording an "
                f"outcome (killed: out of memory or time?) on {delivery.receive_count - 1} of "
                f"{delivery.max_receive_count} deliveries; not tried again"
            )
            status = KILLED_IN.get(step, Status.ERROR_DEPLOYMENT)
            raise GaveUp(_record(storage, ref, upload_id, status, reason, settings))
        try:
            return _import(storage, client, ref, upload_id, settings, delivery), True
        except ObjectGone:
            raise
        except Exception as exc:
            if not (delivery.is_last and is_retryable(exc)):
                raise
            reason = f"failed on the last of {delivery.max_receive_count} deliveries: "
            manifest = _record(
                storage, ref, upload_id, Status.ERROR_DEPLOYMENT, reason + describe(exc), settings
            )
            raise GaveUp(manifest) from exc
    finally:
        leases.release(storage, lease)


def _record(
    storage: Storage,
    ref: S3ObjectRef,
    upload_id: str,
    status: Status,
    reason: str,
    settings: ImportSettings,
) -> Manifest:
    manifest = record_failure(
        storage,
        upload_id,
        status,
        reason,
        name=ref.name or ref.basename,
        upload_ref=ref.url,
        size=ref.size,
        settings=settings,
        parent=ref.parent,
    )
    cytomine.tell_failure(ref, settings, storage, manifest)  # a Cytomine upload: to its core
    return manifest


def _import(
    storage: Storage,
    client: Any,
    ref: S3ObjectRef,
    upload_id: str,
    settings: ImportSettings,
    delivery: Delivery,
) -> Manifest:
    size = object_size(client, ref)
    shortage = disk_shortage(size, settings.workdir)
    if shortage is not None:
        return _record(storage, ref, upload_id, Status.ERROR_CONVERSION, shortage, settings)
    settings = delivery_settings(settings, delivery, size)
    children: ChildImporter = import_inline
    if settings.import_queue_url:
        children = queue_children(settings.import_queue_url, storage, cytomine=ref.cytomine)
    listener = cytomine.listener_for(ref, settings, storage)  # a Cytomine upload: its core
    with tempfile.TemporaryDirectory(prefix="cytotile-s3-", dir=settings.workdir or None) as tmp:
        local = Path(tmp) / safe_name(ref.basename)
        download(client, ref, local)
        manifest = import_file(
            storage,
            local,
            name=ref.name or ref.basename,
            settings=settings,
            upload_id=upload_id,
            upload_ref=ref.url,
            listeners=[listener] if listener is not None else (),
            raise_retryable=True,
            parent=ref.parent,
            children=children,
            series=ref.series,
        )
    manifest = cytomine.record(storage, manifest, ref, listener)
    _registered_or_retry(ref, storage, manifest, listener, delivery)
    return manifest


def _registered_or_retry(
    ref: S3ObjectRef,
    storage: Storage,
    manifest: Manifest,
    listener: CytomineListener | None,
    delivery: Delivery,
) -> None:
    """A DEPLOYED upload whose core did not answer while its image was registered: the message
    fails (SQS delivers it again: the finished upload's records are then completed), unless
    this is the last delivery (the image stays DEPLOYED and served; its core misses it:
    logged)."""
    if listener is None or manifest.id not in listener.unavailable:
        return
    if not cytomine.registration_due(ref, storage, manifest):
        return
    reason = f"{manifest.id}: the core did not answer while its image was registered"
    if delivery.is_last:
        log.warning("%s, on the last delivery: not registered there", reason)
        return
    raise cytomine.CoreUnavailable(f"{reason}; registered on a later delivery")


def process(ref: S3ObjectRef, settings: ImportSettings, client: Any, delivery: Delivery) -> Result:
    """Import one object and say what became of it (never raises)."""
    upload_id = upload_id_for(ref)
    started = time.monotonic()
    result = Result(ref, upload_id, Outcome.DONE)
    try:
        result.manifest, imported = _import_s3_object(ref, settings, client, delivery)
        result.reason = result.manifest.reason or ""
        result.imported = imported
    except ObjectGone as exc:
        result.outcome, result.reason = Outcome.SKIPPED, exc.details
    except leases.LeaseHeld as exc:
        result.outcome, result.reason = Outcome.IN_PROGRESS, str(exc)
        result.retry_after_s = max(0.0, exc.expires_at - time.time()) + 5
    except GaveUp as exc:
        result.outcome, result.manifest, result.error = Outcome.GAVE_UP, exc.manifest, exc
        result.reason = exc.manifest.reason or ""
        result.retry_after_s = 0.0  # the next receive moves it to the dead-letter queue
    except Exception as exc:
        result.outcome, result.reason, result.error = Outcome.RETRY, describe(exc), exc
        result.retry_after_s = queue.backoff_s(delivery.receive_count)
    if result.outcome is Outcome.GAVE_UP:
        result.imported = True
    if result.manifest is not None and result.outcome is not Outcome.RETRY:
        _report(settings, client, result)
    if result.imported:
        result.seconds = time.monotonic() - started
    return result


def _report(settings: ImportSettings, client: Any, result: Result) -> None:
    """A child's final status written into its parent's manifest (:mod:`cytotile.aws.children`);
    when the parent's lease stays held, the message comes back to report again."""
    manifest = result.manifest
    if manifest is None or manifest.parent is None or not manifest.status.is_final:
        return
    try:
        report_to_parent(images_storage(settings.root, client), manifest)
    except ParentBusy as exc:
        result.outcome, result.reason, result.error = Outcome.IN_PROGRESS, str(exc), exc
        result.retry_after_s = max(0.0, min(exc.expires_at - time.time(), 60.0)) + 5
    except Exception as exc:  # the child is imported; only its parent's record is late
        log.warning("%s: cannot record its status in %s: %s", manifest.id, manifest.parent, exc)


def _refs(message: Message, settings: ImportSettings, client: Any) -> Iterator[S3ObjectRef]:
    for ref in message.refs:
        if ref.parent is not None and ref.series is not None:
            if is_series_child(ref, images_storage(settings.root, client)):
                yield ref
            else:
                log.warning("%s is not image %d of %s: not imported", ref.url, ref.series,
                            ref.parent)  # fmt: skip
        elif ref.parent is not None and not is_member(ref, settings.root):
            log.warning("%s is not a member of %s: not imported", ref.url, ref.parent)
        elif ref.parent is None and inside_root(ref, settings.root):
            log.warning("%s is inside the images root %s: not imported", ref.url, settings.root)
        else:  # an upload the API wrote: the id it announced, its Cytomine context
            yield cytomine.with_context(ref, client)


def _log(result: Result) -> None:
    status = result.manifest.status.value if result.manifest is not None else "-"
    reason = f" ({result.reason})" if result.reason else ""
    if result.outcome is Outcome.DONE:
        log.info("%s: %s -> %s%s", result.upload_id, result.ref.url, status, reason)
    elif result.outcome in (Outcome.SKIPPED, Outcome.IN_PROGRESS):
        log.info("%s: %s%s", result.upload_id, result.outcome.value.lower(), reason)
    elif result.outcome is Outcome.GAVE_UP:
        log.error("%s: %s -> %s, to the dead-letter queue%s", result.upload_id, result.ref.url,
                  status, reason)  # fmt: skip
    else:
        log.error("%s: import of %s failed; the message will be retried%s", result.upload_id,
                  result.ref.url, reason, exc_info=result.error)  # fmt: skip


def handle_import_event(
    event: dict[str, Any],
    settings: ImportSettings,
    *,
    client: Any = None,
    context: Any = None,
    observer: Observer | None = None,
) -> dict[str, Any]:
    """Import every object ``event`` announces; return an SQS partial batch response.

    ``context`` (the Lambda context) bounds the imports by the invocation's remaining time.
    A direct (non-SQS) S3 event that fails re-raises instead, so the asynchronous invocation is
    retried.
    """
    budget_s = context.get_remaining_time_in_millis() / 1000 if context is not None else 0.0
    ends_at = time.time() + budget_s if context is not None else 0.0
    client = client if client is not None else _s3_client()
    failures: list[dict[str, str]] = []
    for message in messages(event):
        if message.error is not None:
            log.error("message %s is not an S3 notification: %s", message.message_id, message.error)
            if message.message_id is None:
                raise EventError(message.error)
            failures.append({"itemIdentifier": message.message_id})
            continue
        delivery = Delivery(message.receive_count, settings.max_receive_count, ends_at, budget_s)
        for ref in _refs(message, settings, client):
            if observer is not None:
                observer.started(upload_id_for(ref))
            result = process(ref, settings, client, delivery)
            _log(result)
            if observer is not None:
                observer.finished(result)
            if not result.outcome.fails_message:
                continue
            if message.message_id is None:
                raise result.error or RuntimeError(result.reason)
            failures.append({"itemIdentifier": message.message_id})
            if result.retry_after_s is not None:
                queue.retry_after(message, result.retry_after_s)
            break  # the rest of this message is retried with it (imports are idempotent)
    return {"batchItemFailures": failures}
