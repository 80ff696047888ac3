"""``POST /upload`` when the server's upload root is S3 (``CYTOTILE_UPLOAD_ROOT=s3://bucket/
prefix``: the upload function on AWS): the files go into the upload bucket, whose import
function imports them, instead of being imported in the request.

As locally, a Cytomine call (``idStorage``, ``idProject``, ``keys``, ``values``, signed by a
Cytomine user) is checked with the core first (the user, the storage, each project) and each
file's ``UploadedFile`` is created there (:mod:`cytotile.api.cytomine_core`). Each file is then
written to ``<prefix>/<upload id>/<name>`` with its upload id and Cytomine context as the
object's metadata (:mod:`cytotile.upload_context`); the import function imports it under that
id and runs the same :class:`~cytotile.importer.core_callback.CytomineListener`, so the core gets
the same statuses, images, slices, properties and image instances as from a local server.

The answer is PIMS's for an upload answered before its import: per file, status UPLOADED, no
images yet, ``uploadedFile`` the core's object as created. ``sync=true`` gets the same answer:
the import runs in another function, for up to 15 minutes, and API Gateway answers within 29 s,
so this function cannot wait for it (PIMS, which imports in its own process, would).

A request through API Gateway and Lambda carries at most 6 MB of event, and a binary body
arrives base64-encoded in it (4/3 of its size): ``MAX_BODY`` (4 MiB) is the largest body taken,
answered 413 above (a larger one may be refused by API Gateway or Lambda before reaching here).
Larger files go through ``POST /upload/presigned`` (multipart straight to S3), which takes the
same Cytomine query fields.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from cytotile import upload_context
from cytotile.api import cytomine_core, multipart
from cytotile.api.cytomine import UploadFields, answer_only, new_upload_id
from cytotile.api.cytomine_core import Plan
from cytotile.api.errors import BodyTooLarge, MalformedBody
from cytotile.api.http import JSON
from cytotile.api.presigned import s3_client, safe_filename
from cytotile.api.routing import context
from cytotile.errors import BadParameter, StorageError

MAX_BODY = 4 * 1024 * 1024
TOO_LARGE = (
    f"an upload through the API takes at most {MAX_BODY} bytes of request body (Lambda's 6 MB "
    "event, the body base64-encoded in it): upload larger files with POST /upload/presigned"
)


def is_s3(root: str) -> bool:
    target = urlparse(root)
    return target.scheme == "s3" and bool(target.netloc)


def object_key(root: str, upload_id: str, name: str) -> tuple[str, str]:
    """(bucket, key) of an upload's object: ``<prefix>/<upload id>/<name>``."""
    target = urlparse(root)
    prefix = target.path.strip("/")
    key = f"{upload_id}/{name}"
    return target.netloc, f"{prefix}/{key}" if prefix else key


def check_fits(fields: UploadFields) -> None:
    """Refuse (before the core is asked) a context that S3's metadata cannot hold."""
    largest = 2**53  # ids as long as the core's can be
    try:
        upload_context.encode(new_upload_id(), _cytomine(fields, largest, largest, largest))
    except upload_context.ContextTooLarge as exc:
        raise BadParameter(str(exc)) from None


def _cytomine(fields: UploadFields, uf: Any, user: Any, server: Any) -> dict[str, Any]:
    return {"uploadedFile": uf, "storage": fields.storage, "projects": list(fields.projects),
            "properties": [list(p) for p in fields.properties], "user": user,
            "imageServer": server}  # fmt: skip


def metadata(plan: Plan, fields: UploadFields) -> dict[str, str]:
    """The object's metadata: its upload id, and the core's ``UploadedFile`` when registered."""
    assert plan.upload_id is not None
    if plan.listener is None:
        return upload_context.encode(plan.upload_id)
    uf = plan.listener.uploaded_file
    cytomine = _cytomine(fields, uf["id"], uf.get("user"), uf.get("imageServer"))
    return upload_context.encode(plan.upload_id, cytomine)


def accepted(plan: Plan, name: str, size: int, fields: UploadFields) -> dict[str, Any]:
    """PIMS's answer for a file imported after the answer: UPLOADED, no image yet."""
    item: dict[str, Any] = {"id": plan.upload_id, "original_name": name, "name": name,
                            "path": f"{plan.upload_id}/{name}", "status": "UPLOADED",
                            "size": size, "images": []}  # fmt: skip
    return answer_only(item, fields, plan)


async def _limited(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > MAX_BODY:
            raise BodyTooLarge(TOO_LARGE)
        yield chunk


def _store(
    request: Request,
    files: Sequence[multipart.Received],
    plans: Sequence[Plan],
    fields: UploadFields,
) -> list[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    root, client = context(request).settings.upload_root, s3_client(request)
    answers = []
    for index, (received, plan) in enumerate(zip(files, plans, strict=True)):
        assert plan.upload_id is not None
        name = safe_filename(received.filename)
        bucket, key = object_key(root, plan.upload_id, name)
        extra = {"Metadata": metadata(plan, fields), "ContentType": "application/octet-stream"}
        try:
            client.upload_file(str(received.path), bucket, key, ExtraArgs=extra)
        except (ClientError, BotoCoreError) as exc:
            _abandoned(plans[index:])
            raise StorageError(f"S3 refused the upload {key}: {exc}") from exc
        answers.append(accepted(plan, name, received.size, fields))
    return answers


def _abandoned(plans: Sequence[Plan]) -> None:
    """Files registered in the core but never written: ERROR_DEPLOYMENT there (as the listener
    sends it), rather than UPLOADED for ever."""
    from cytotile.importer.events import ImportEvent

    for plan in plans:
        if plan.listener is not None and plan.upload_id is not None:
            plan.listener(ImportEvent(plan.upload_id, "ERROR_DEPLOYMENT", "end"))


async def upload_to_s3(request: Request, fields: UploadFields) -> Response:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise BodyTooLarge(TOO_LARGE)
    check_fits(fields)
    name = request.query_params.get("name") or request.headers.get("x-file-name") or "upload"
    tmp = tempfile.mkdtemp(prefix="cytotile-upload-")
    try:
        files = await multipart.receive(
            request.headers.get("content-type", ""), _limited(request.stream()), Path(tmp), name
        )
        if not files:
            raise MalformedBody("the form has no file (field files[] or file)")
        storage = context(request).storage
        plans = await run_in_threadpool(
            cytomine_core.plans, request, storage, files, fields, remote=True
        )
        answers = await run_in_threadpool(_store, request, files, plans, fields)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return JSON(answers, headers={"Cache-Control": "no-store"})
