"""Parsing of the events that start an import: S3 notifications, directly or through SQS.

Three shapes reach the import function:

- an S3 event notification invoked directly: ``{"Records": [{"eventSource": "aws:s3",
  "s3": {...}}]}``;
- an SQS batch whose message bodies are S3 event notifications (the template's path):
  ``{"Records": [{"eventSource": "aws:sqs", "messageId": ..., "body": "<S3 event JSON>"}]}``;
  an SNS notification wrapping the S3 event inside the body (S3 -> SNS -> SQS) is unwrapped too;
- the ``s3:TestEvent`` message S3 sends when a notification is configured: ignored.

An archive's import enqueues one message per image it held, shaped like an S3 notification of
the extracted file (``upload-<parent>/extracted/<path>`` in the images bucket) whose record also
carries ``"cytotile": {"parent": ..., "member": ...}``: the child's upload id is derived from
them (:func:`cytotile.importer.archives.child_upload_id`). An image of a file holding several
(:mod:`cytotile.importer.series`) is announced the same way, naming the parent's own object,
with ``"cytotile": {"parent": ..., "series": <index>, "name": ...}``: its id is derived from the
parent and the index (:func:`cytotile.importer.series.series_child_id`).

S3 URL-encodes object keys in notifications (``+`` for a space, ``%C3%A9`` for ``é``): every key
is decoded with :func:`urllib.parse.unquote_plus`. Only ``ObjectCreated:*`` records are imports;
other records (removals, restores...) and folder placeholders (keys ending in ``/``) are skipped.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

#: the namespace of deterministic upload ids (uuid5 of a name in the URL namespace)
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://cytotile/upload")


class EventError(ValueError):
    """An event (or one SQS message of it) that is not any shape cytotile understands."""


@dataclass(frozen=True)
class S3ObjectRef:
    """One object an S3 notification announced."""

    bucket: str
    key: str  # decoded: the object's real key
    size: int | None = None
    etag: str | None = None  # without quotes
    version_id: str | None = None
    #: an archive's member: the archive's upload id, and the member's path in it
    parent: str | None = None
    member: str | None = None
    #: an image of a file holding several: its index in the file, and its upload's name
    series: int | None = None
    name: str | None = None
    #: an upload the API wrote (its object's metadata, cytotile.upload_context): the id it
    #: announced, and the Cytomine context (JSON text) of a Cytomine upload
    upload_id: str | None = None
    cytomine: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def basename(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass
class Message:
    """The refs of one delivery unit: an SQS message (``message_id`` set) or a direct event."""

    message_id: str | None
    refs: list[S3ObjectRef] = field(default_factory=list)
    #: why the message could not be parsed (then ``refs`` is empty); None when it could
    error: str | None = None
    #: how many times SQS has delivered it, this time included (``ApproximateReceiveCount``)
    receive_count: int = 1
    #: what changes its visibility (SQS only)
    receipt_handle: str | None = None
    queue_arn: str | None = None


def _receive_count(record: dict[str, Any]) -> int:
    attributes = record.get("attributes")
    raw = attributes.get("ApproximateReceiveCount") if isinstance(attributes, dict) else None
    try:
        return max(1, int(str(raw)))
    except ValueError:
        return 1


def upload_id_for(ref: S3ObjectRef) -> str:
    """A deterministic ``upload-<uuid>`` for an object, so a redelivered notification maps to the
    same upload (and the import's idempotency returns the finished one). An archive's member
    has the id its archive gave it; an upload the API wrote, the id the API announced."""
    if ref.upload_id is not None and ref.parent is None:
        return ref.upload_id
    if ref.parent is not None and ref.series is not None:
        from cytotile.importer.series import series_child_id

        return series_child_id(ref.parent, ref.series)
    if ref.parent is not None and ref.member is not None:
        from cytotile.importer.archives import child_upload_id

        return child_upload_id(ref.parent, ref.member)
    discriminator = ref.etag or ref.version_id or (str(ref.size) if ref.size is not None else "")
    return f"upload-{uuid.uuid5(NAMESPACE, f'{ref.bucket}/{ref.key}/{discriminator}')}"


def is_test_event(payload: Any) -> bool:
    """The message S3 sends to a destination when a notification configuration is saved."""
    return isinstance(payload, dict) and payload.get("Event") == "s3:TestEvent"


def parse_s3_notification(payload: Any) -> list[S3ObjectRef]:
    """The created objects of one S3 event notification (empty for the test event)."""
    if is_test_event(payload):
        return []
    if not isinstance(payload, dict) or not isinstance(payload.get("Records"), list):
        raise EventError("not an S3 event notification: no Records")
    refs: list[S3ObjectRef] = []
    for record in payload["Records"]:
        ref = _parse_s3_record(record)
        if ref is not None:
            refs.append(ref)
    return refs


def _parse_s3_record(record: Any) -> S3ObjectRef | None:
    if not isinstance(record, dict) or not isinstance(record.get("s3"), dict):
        raise EventError("an S3 record without its 's3' part")
    if record.get("eventSource", "aws:s3") != "aws:s3":
        raise EventError(f"not an S3 record: {record.get('eventSource')!r}")
    if not str(record.get("eventName", "ObjectCreated:")).startswith("ObjectCreated:"):
        return None
    s3 = record["s3"]
    try:
        bucket = str(s3["bucket"]["name"])
        obj = s3["object"]
        key = unquote_plus(str(obj["key"]))
    except (KeyError, TypeError) as exc:
        raise EventError(f"an S3 record without a bucket or key: {exc}") from exc
    if not bucket or not key or key.endswith("/"):
        return None
    size = obj.get("size")
    etag = obj.get("eTag") or obj.get("etag")
    child = record.get("cytotile")
    parent = member = name = cytomine = None
    series: int | None = None
    if child is not None:
        if not (isinstance(child, dict) and child.get("parent")):
            raise EventError("a child's record without its parent")
        parent = str(child["parent"])
        if child.get("member"):
            member = str(child["member"])
        elif isinstance(child.get("series"), int) and child["series"] >= 0:
            series, name = int(child["series"]), str(child.get("name") or "") or None
        else:
            raise EventError("a child's record without its path or series index")
        if isinstance(child.get("cytomine"), str):
            cytomine = child["cytomine"]
    return S3ObjectRef(
        bucket=bucket,
        key=key,
        size=int(size) if size is not None else None,
        etag=str(etag).strip('"') if etag else None,
        version_id=str(obj["versionId"]) if obj.get("versionId") else None,
        parent=parent,
        member=member,
        series=series,
        name=name,
        cytomine=cytomine,
    )


def child_notification(
    bucket: str,
    key: str,
    size: int,
    parent: str,
    member: str | None,
    *,
    series: int | None = None,
    name: str | None = None,
    cytomine: str | None = None,
) -> str:
    """The message body announcing an archive's member, or image ``series`` (named ``name``) of
    the file at ``key``, to the import queue; ``cytomine``: the parent's Cytomine context."""
    from urllib.parse import quote_plus

    child: dict[str, Any] = {"parent": parent, "member": member}
    if series is not None:
        child = {"parent": parent, "series": series, "name": name}
    if cytomine is not None:
        child["cytomine"] = cytomine
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Extracted",
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/"),
                                                      "size": size}},
        "cytotile": child,
    }  # fmt: skip
    return json.dumps({"Records": [record]}, separators=(",", ":"))


def _parse_sqs_body(body: Any) -> list[S3ObjectRef]:
    try:
        payload = json.loads(body) if isinstance(body, str | bytes) else body
    except ValueError as exc:
        raise EventError(f"the message body is not JSON: {exc}") from exc
    if isinstance(payload, dict) and payload.get("Type") == "Notification" and "Message" in payload:
        return _parse_sqs_body(payload["Message"])  # S3 -> SNS -> SQS
    return parse_s3_notification(payload)


def messages(event: dict[str, Any]) -> list[Message]:
    """The delivery units of a Lambda event: one per SQS message, or one for a direct S3 event.

    A malformed SQS message is returned with ``error`` set (so only it fails); a malformed event
    as a whole raises :class:`EventError`.
    """
    if is_test_event(event):
        return []
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise EventError("not an S3 or SQS event: no Records")
    if all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records) and records:
        out = []
        for record in records:
            message = Message(
                str(record.get("messageId", "")),
                receive_count=_receive_count(record),
                receipt_handle=record.get("receiptHandle"),
                queue_arn=record.get("eventSourceARN"),
            )
            try:
                message.refs = _parse_sqs_body(record.get("body"))
            except EventError as exc:
                message.error = str(exc)
            out.append(message)
        return out
    return [Message(None, parse_s3_notification(event))]


def s3_refs(event: dict[str, Any]) -> list[S3ObjectRef]:
    """Every created object an S3, SQS-of-S3 (or test) event announces, keys decoded.

    Raises :class:`EventError` when any part of the event is malformed.
    """
    refs: list[S3ObjectRef] = []
    for message in messages(event):
        if message.error is not None:
            raise EventError(f"message {message.message_id}: {message.error}")
        refs.extend(message.refs)
    return refs
