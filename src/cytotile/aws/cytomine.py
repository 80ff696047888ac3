"""The import function's side of an upload the API wrote into the upload bucket (``POST /upload``
on AWS, or a presigned upload): the upload id and Cytomine context its object carries as
metadata (:mod:`cytotile.upload_context`), and the core's listener.

- :func:`with_context`: one HEAD of the announced object gives the id the API announced (the
  import runs under it: the path the core's ``UploadedFile`` names) and the Cytomine context;
  an object without that metadata (an upload put straight into the bucket) keeps the id derived
  from its ETag. A HEAD that fails for another reason than the object being gone fails the
  message (SQS delivers it again): importing it under another id would lose the core's record.
- :func:`listener_for`: a Cytomine upload is imported with the same
  :class:`~cytotile.importer.core_callback.CytomineListener` as on a local server, signed with
  this server's key pair (``CYTOTILE_CORE_KEYS``, or ``core_keys`` of the secret
  ``CYTOTILE_CYTOMINE_SECRET_ARN``), starting from the ``UploadedFile`` as the core has it now.
- :func:`record`: the context is kept in the manifest (``source.cytomine``), as locally.
- :func:`registration_due` / :func:`register_again`: a DEPLOYED upload whose core did not answer
  while its image was registered (down, restarting) misses records there; the message fails
  (:class:`CoreUnavailable`), and a later delivery of the finished upload registers what is
  missing (the listener's state creates nothing twice).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Any

from cytotile import upload_context
from cytotile.aws.events import S3ObjectRef, upload_id_for

if TYPE_CHECKING:
    from cytotile.cytomine_core import CoreClient
    from cytotile.importer.core_callback import CytomineListener
    from cytotile.manifest import Manifest
    from cytotile.settings import ImportSettings
    from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.aws.import")

GONE = ("404", "NoSuchKey", "NotFound", "412", "PreconditionFailed")
_secrets: dict[str, str] = {}  # secret ARN -> core_keys, read once per container


class CoreUnavailable(Exception):
    """A DEPLOYED upload's registration left undone by a core that did not answer: the message
    fails, and a later delivery registers what is missing."""


def with_context(ref: S3ObjectRef, client: Any) -> S3ObjectRef:
    """``ref`` with what its object's metadata says (unchanged for an archive's member)."""
    if ref.parent is not None:
        return ref
    from botocore.exceptions import ClientError

    extra = {"IfMatch": f'"{ref.etag}"'} if ref.etag else {}
    try:
        head = client.head_object(Bucket=ref.bucket, Key=ref.key, **extra)
    except ClientError as exc:
        code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
        if code in GONE:  # the download says so (skipped)
            return ref
        raise
    upload_id, cytomine = upload_context.decode(head.get("Metadata"))
    if upload_id is None:
        return ref
    text = json.dumps(cytomine) if cytomine is not None else None
    return dataclasses.replace(ref, upload_id=upload_id, cytomine=text)


def core_keys(settings: ImportSettings) -> str:
    if settings.core_keys or not settings.cytomine_secret_arn:
        return settings.core_keys
    arn = settings.cytomine_secret_arn
    if arn not in _secrets:
        from cytotile.api.cytomine_secret import read_secret  # standard library and boto3

        _secrets[arn] = str(read_secret(arn).get("core_keys") or "")
    return _secrets[arn]


def core_client(settings: ImportSettings) -> CoreClient | None:
    keys = core_keys(settings)
    if not settings.core_url or not keys:
        return None
    from cytotile.cytomine_core import CoreClient

    return CoreClient.from_settings(settings.core_url, keys)


def listener_for(
    ref: S3ObjectRef, settings: ImportSettings, storage: Storage
) -> CytomineListener | None:
    """The core's listener of a Cytomine upload; None for any other upload. A collection's child
    (its context handed on in its message) is heard by a listener of its parent's
    ``UploadedFile``, which registers the child's own, a child of it, at its first event."""
    if ref.cytomine is None:
        return None
    context: dict[str, Any] = json.loads(ref.cytomine)
    core = core_client(settings)
    if core is None:
        log.warning("%s: a Cytomine upload (UploadedFile %s) but no core to register it in "
                    "(CYTOTILE_CORE_URL, core keys)", ref.url, context["uploadedFile"])  # fmt: skip
        return None
    from cytotile.importer.core_callback import CytomineListener

    upload_id = ref.parent if ref.parent is not None else upload_id_for(ref)
    projects = tuple(int(p) for p in context.get("projects") or ())
    pairs = tuple((str(k), str(v)) for k, v in context.get("properties") or ())
    uf = _uploaded_file(core, context, ref, upload_id)
    return CytomineListener(core, storage, upload_id, uf, projects, pairs)


def tell_failure(
    ref: S3ObjectRef, settings: ImportSettings, storage: Storage, manifest: Manifest
) -> None:
    """An ERROR_* recorded without the import's events (no room on the ephemeral disk, the last
    delivery giving up) told to the core, as the listener tells one."""
    if ref.cytomine is None or not manifest.status.value.startswith("ERROR_"):
        return
    from cytotile.importer.events import ImportEvent

    try:
        listener = listener_for(ref, settings, storage)
    except Exception as exc:  # the failure is recorded: the core only misses it (logged)
        log.warning("%s: cannot tell the core %s: %s", manifest.id, manifest.status.value, exc)
        return
    if listener is not None:
        listener(ImportEvent(manifest.id, manifest.status.value, "end"))


def _uploaded_file(
    core: CoreClient, context: dict[str, Any], ref: S3ObjectRef, upload_id: str
) -> dict[str, Any]:
    """The core's ``UploadedFile`` as it is now (the listener PUTs it whole); when the core
    cannot be asked, the object as the API created it (the listener's calls then tell)."""
    from cytotile.cytomine_core import CoreError
    from cytotile.importer.core_callback import CODES

    ident = context["uploadedFile"]
    try:
        found = core.get(f"uploadedfile/{ident}.json")
    except CoreError as exc:
        log.warning("core: uploaded file %s: %s", ident, exc)
        found = None
    if isinstance(found, dict) and found.get("id") == ident:
        return found
    name = ref.basename
    made = {"id": ident, "originalFilename": name, "filename": f"{upload_id}/{name}",
            "size": ref.size or 0, "ext": name.rsplit(".", 1)[-1].lower() if "." in name else "",
            "contentType": "", "projects": context.get("projects") or [],
            "storage": context.get("storage"), "user": context.get("user"),
            "imageServer": context.get("imageServer"), "status": CODES["UPLOADED"]}  # fmt: skip
    return made


def record(
    storage: Storage, manifest: Manifest, ref: S3ObjectRef, listener: CytomineListener | None
) -> Manifest:
    """The Cytomine context in the upload's manifest (``source.cytomine``, its own
    ``UploadedFile``'s id), as locally."""
    if ref.cytomine is None:
        return manifest
    context = json.loads(ref.cytomine)
    registered = listener.files.get(manifest.id) if listener is not None else None
    uf_id = registered.get("id") if registered else context["uploadedFile"]
    recorded = {"storage": context.get("storage"), "projects": context.get("projects") or [],
                "properties": dict(context.get("properties") or []), "sync": False,
                "core": None, "uploadedFile": uf_id}  # fmt: skip
    manifest.source = {**manifest.source, "cytomine": recorded}
    manifest.save(storage)
    return manifest


def registration_due(ref: S3ObjectRef, storage: Storage, manifest: Manifest) -> bool:
    """Whether a DEPLOYED Cytomine upload (a collection's child too: its records are kept in
    its own state) still misses records in its core
    (:func:`~cytotile.importer.core_callback.registered`): one read of its state."""
    from cytotile.manifest import Status

    if ref.cytomine is None or manifest.status is not Status.DEPLOYED:
        return False
    from cytotile.importer.core_callback import registered

    projects = tuple(int(p) for p in json.loads(ref.cytomine).get("projects") or ())
    return not registered(storage, manifest.id, projects)


def register_again(
    ref: S3ObjectRef, settings: ImportSettings, storage: Storage, manifest: Manifest
) -> CytomineListener | None:
    """What a DEPLOYED upload misses in its core, registered (as its import's end does); the
    listener, which tells whether the core answered; None when there is no core to ask."""
    from cytotile.importer.events import ImportEvent

    listener = listener_for(ref, settings, storage)
    if listener is not None:
        listener(ImportEvent(manifest.id, "DEPLOYED", "end"))
    return listener
