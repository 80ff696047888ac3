"""Uploads: the list (for the viewer), ``POST /upload`` (local import), deletion.

An archive upload lists its ``children`` (one upload per image it held: id, name, path and
status, read from each child's own manifest when it is at hand, as PIMS shows an archive's
files) and each child names its ``parent``.

``POST /upload`` streams each file of the multipart form (``files[]`` or ``file``, as PIMS and
Dropzone send them; a raw body with ``?name=`` also works) to a temporary file, then runs the
import flow in the thread pool and answers, per file, PIMS's legacy shape (``name``,
``uploaded_file``, ``images``) with cytotile's upload ``status`` (DEPLOYED, ERROR_FORMAT, ...).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from cytotile.api import cytomine, cytomine_core, multipart
from cytotile.api.admin import require_admin
from cytotile.api.cytomine_core import Plan
from cytotile.api.errors import ImportUnavailable, MalformedBody
from cytotile.api.http import JSON
from cytotile.api.openapi import Op, Param, describe
from cytotile.api.routing import PatternRoute, context, endpoint, route
from cytotile.api.upload_s3 import is_s3, upload_to_s3
from cytotile.errors import ImageNotFound
from cytotile.manifest import Manifest, pyramid_key, upload_id_of
from cytotile.pipeline.args import Args
from cytotile.pipeline.image import check_image_path, forget_image
from cytotile.settings import ImportSettings, from_env


def summary(m: Manifest, known: dict[str, Manifest] | None = None) -> dict[str, Any]:
    """One upload; ``known`` (manifests by id) gives its children's current statuses."""
    image = m.image or {}
    children = []
    for child in m.children:
        current = (known or {}).get(child["id"])
        status = current.status.value if current is not None else child.get("status")
        reason = current.reason if current is not None else None
        children.append({**child, "status": status, "reason": reason})
    return {
        "id": m.id,
        "original_name": m.original_name,
        "path": f"{m.id}/{m.original_name}",
        "status": m.status.value,
        "reason": m.reason,
        "format_id": m.format_id,
        "width": image.get("width"),
        "height": image.get("height"),
        "size": m.size,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "parent": m.parent,
        "children": children,
    }


def list_uploads(request: Request, args: Args) -> Response:
    storage = context(request).storage
    manifests: dict[str, Manifest] = {}
    for upload_id in storage.list_uploads():
        try:
            manifests[upload_id] = Manifest.load(storage, upload_id)
        except ImageNotFound:  # being written, or unreadable: skip it
            continue
    items = [summary(m, manifests) for m in manifests.values()]
    items.sort(key=lambda item: item["created_at"] or "", reverse=True)
    return JSON(items, headers={"Cache-Control": "no-store"})


def _import(
    request: Request, received: multipart.Received, plan: Plan | None = None
) -> dict[str, Any]:
    try:
        from cytotile.importer.flow import import_file
    except ImportError as exc:
        raise ImportUnavailable(f"the import flow is not installed: {exc}") from None
    ctx = context(request)
    settings = from_env(ImportSettings, root=ctx.settings.root)
    plan = plan or Plan()  # an id announced before the import; the core's listener
    given: dict[str, Any] = {"upload_id": plan.upload_id} if plan.upload_id else {}
    if plan.listener is not None:
        given["listeners"] = [plan.listener]
    manifest = import_file(ctx.storage, received.path, name=received.filename, settings=settings,
                           **given)  # fmt: skip
    known = {}
    for child in manifest.children:
        try:
            known[child["id"]] = Manifest.load(ctx.storage, child["id"])
        except ImageNotFound:
            continue
    item = summary(manifest, known)
    images = []
    for m in (manifest, *known.values()):
        if m.image:
            images.append({"path": _image_path(m), "width": m.image["width"],
                           "height": m.image["height"]})  # fmt: skip
    return {**item, "name": manifest.original_name, "uploaded_file": item,
            "images": images}  # fmt: skip


def _image_path(m: Manifest) -> str:
    return f"{m.id}/{m.original_name}"


async def upload(request: Request) -> Response:
    require_admin(request)
    fields = cytomine.parse_fields(request.query_params)  # idStorage, idProject, keys, values
    if is_s3(context(request).settings.upload_root):  # on AWS: imported by the import function
        return await upload_to_s3(request, fields)
    name = request.query_params.get("name") or request.headers.get("x-file-name") or "upload"
    storage, handed_over = context(request).storage, False
    tmp = tempfile.mkdtemp(prefix="cytotile-upload-")
    try:
        files = await multipart.receive(
            request.headers.get("content-type", ""), request.stream(), Path(tmp), name
        )
        if not files:
            raise MalformedBody("the form has no file (field files[] or file)")
        plans = await run_in_threadpool(cytomine_core.plans, request, storage, files, fields)
        if fields.in_background:  # Cytomine's call without sync=true: answered at once (PIMS)
            answers = [cytomine.accepted(f, p, fields) for f, p in zip(files, plans, strict=True)]
            run_one = functools.partial(_import, request)
            task = BackgroundTask(
                cytomine.import_later, run_one, storage, files, plans, fields, tmp
            )
            handed_over = True  # the task removes the files once imported
            return JSON(answers, background=task)
        done = [(await run_in_threadpool(_import, request, f, p), p)
                for f, p in zip(files, plans, strict=True)]  # fmt: skip
    finally:
        if not handed_over:
            shutil.rmtree(tmp, ignore_errors=True)
    return JSON([await run_in_threadpool(cytomine.answer, storage, r, fields, p) for r, p in done])


def delete_upload(request: Request, args: Args) -> Response:
    """Only the upload's own path (its folder, or ``<folder>/<original name>``) deletes it: any
    longer path (``.../normalized-tile/...``, ``.../manifest.json/info``) is 404, deleting
    nothing."""
    from cytotile.tiff.reader import forget_pyramid

    require_admin(request)
    storage = context(request).storage
    upload_id = upload_id_of(request.path_params["path"])
    Manifest.load(storage, upload_id)  # 404 when there is no such upload
    check_image_path(storage, request.path_params["path"])
    storage.delete_prefix(upload_id)
    forget_pyramid(storage, pyramid_key(upload_id))
    forget_image(storage, upload_id)
    return Response(status_code=204)


class MethodRoute(PatternRoute):
    """A catch-all pattern that only exists for its methods (no 405 for other verbs)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        return (Match.NONE, {}) if match is Match.PARTIAL else (match, child)


def routes() -> list[BaseRoute]:
    tags = ["uploads"]
    deleted = {204: "Deleted", 401: "The admin token is missing or wrong (when set)"}
    delete = Op("Delete an upload: only its own path (its folder or its image)", tags=tags,
                statuses=deleted)  # fmt: skip
    upload_doc = Op(
        "Upload and import files (multipart files[] or file; or a raw body with ?name=)",
        tags=tags,
        query=(Param("name", {"type": "string"}, "the file name of a raw body"),),
        statuses={401: "The admin token is missing or wrong (when set)"},
        body={"type": "object", "properties": {"files[]": {"type": "string", "format": "binary"}}},
        body_type="multipart/form-data",
    )
    return [
        route("/uploads", list_uploads, doc=Op("Uploads, newest first", tags=tags)),
        describe(PatternRoute("/upload", upload, ("POST",), "upload"), upload_doc),
        describe(
            MethodRoute("/image/{path}", endpoint(delete_upload), ("DELETE",), "delete_image"),
            delete,
        ),
        describe(
            MethodRoute("/file/{path}", endpoint(delete_upload), ("DELETE",), "delete_file"),
            delete,
        ),
    ]
