"""Cytomine's upload call, ``POST /upload?idStorage=&idProject=&keys=&values=&sync=`` (multipart
``files[]``), as PIMS takes it.

PIMS checks the query (a storage, integer projects, as many keys as values), then registers an
``UploadedFile`` in the core and creates the images there as they are imported (its Cytomine
listener). cytotile checks the same fields and records them in the upload's manifest
(``source.cytomine``). With a core (``CYTOTILE_CORE_URL``) the upload is registered there
(:mod:`cytotile.api.cytomine_core`) and each file's ``uploadedFile`` is the core's object, its
images the core's ``image`` and ``imageInstances``; without one, ``uploadedFile`` is made of
cytotile's own members, the status as the core's numeric code. A Cytomine call
(``idStorage`` given) without ``sync=true`` is answered at once, as PIMS does (status
UPLOADED, no images yet), and the files are imported after the answer; other calls are
answered once imported.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cytotile.api.cytomine_core import Plan
from cytotile.api.errors import ImportUnavailable
from cytotile.api.multipart import Received
from cytotile.errors import BadParameter, ImageNotFound
from cytotile.importer.core_callback import CODES  # the core's UploadedFileStatus codes
from cytotile.manifest import Manifest
from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.api")

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


@dataclass(frozen=True)
class UploadFields:
    storage: int | None = None
    projects: tuple[int, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    sync: bool = False
    core: str | None = None  # PIMS ignores a core other than its own; recorded

    @property
    def given(self) -> bool:
        return self != UploadFields()

    @property
    def in_background(self) -> bool:
        """Cytomine's call without ``sync=true``: answered before the import, as PIMS."""
        return self.storage is not None and not self.sync

    def to_dict(self) -> dict[str, Any]:
        return {
            "storage": self.storage,
            "projects": list(self.projects),
            "properties": dict(self.properties),
            "sync": self.sync,
            "core": self.core,
        }


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def parse_fields(query: Mapping[str, str]) -> UploadFields:
    """The Cytomine fields of the query (``storage`` and ``projects`` are PIMS's aliases)."""
    raw_storage = query.get("idStorage") or query.get("storage")
    try:
        storage = int(raw_storage) if raw_storage else None
        projects = tuple(int(p) for p in _split(query.get("idProject") or query.get("projects")))
    except ValueError:
        raise BadParameter("idStorage, idProject: integers are expected") from None
    keys, values = _split(query.get("keys")), _split(query.get("values"))
    if len(keys) != len(values):
        raise BadParameter(f"keys, values: {len(keys)} keys for {len(values)} values")
    sync_text = (query.get("sync") or "").strip().lower()
    if sync_text not in TRUE + FALSE:
        raise BadParameter(f"sync: {sync_text!r} is not a boolean")
    core = query.get("core") or query.get("cytomine") or None
    return UploadFields(storage, projects, tuple(zip(keys, values, strict=True)),
                        sync_text in TRUE, core)  # fmt: skip


def answer(
    storage: Storage, item: dict[str, Any], fields: UploadFields, plan: Plan | None = None
) -> dict[str, Any]:
    """One imported file's answer: ``item`` (cytotile's) with PIMS's ``uploadedFile`` and
    ``size`` (the core's own objects when the upload is registered there: its ``UploadedFile``
    as it is now, each image's ``image`` and ``imageInstances``); the fields are recorded in
    the upload's manifest when the query had any."""
    record(storage, str(item.get("id") or ""), fields, plan)
    return answer_only(item, fields, plan, imported=True)


def record(storage: Storage, upload_id: str, fields: UploadFields, plan: Plan | None) -> None:
    if not fields.given or not upload_id:
        return
    recorded = fields.to_dict()
    if plan is not None and plan.listener is not None:
        recorded["uploadedFile"] = plan.listener.uploaded_file.get("id")  # the core's id
    try:
        manifest = Manifest.load(storage, upload_id)
        manifest.source = {**manifest.source, "cytomine": recorded}
        manifest.save(storage)
    except ImageNotFound:
        return
    listener = plan.listener if plan is not None else None
    if (
        listener is not None
        and upload_id in listener.unavailable
        and manifest.status.value == "DEPLOYED"
    ):  # the core did not answer while the image was registered: tried again later
        from cytotile.importer.core_callback import registered
        from cytotile.importer.core_retry import register_later

        if not registered(storage, upload_id, listener.projects):
            register_later(listener, upload_id)


def answer_only(
    item: dict[str, Any], fields: UploadFields, plan: Plan | None = None, imported: bool = False
) -> dict[str, Any]:
    listener = plan.listener if plan is not None else None
    if listener is not None:
        uploaded = listener.current() if imported else listener.uploaded_file
        found = {i["upload_id"]: i for i in listener.images}
        images = [{**image, **_core_image(found, image)} for image in item.get("images", [])]
        return {**item, "size": item.get("size"), "uploadedFile": uploaded, "images": images}
    upload_id = item.get("id")
    name = str(item.get("original_name") or item.get("name") or "")
    uploaded = {
        "id": upload_id,
        "originalFilename": name,
        "filename": item.get("path"),
        "ext": name.rsplit(".", 1)[-1].lower() if "." in name else "",
        "size": item.get("size"),
        "status": CODES.get(str(item.get("status")), CODES["ERROR_DEPLOYMENT"]),
        "storage": fields.storage,
        "projects": list(fields.projects),
    }
    return {**item, "size": item.get("size"), "uploadedFile": uploaded}


def _core_image(found: dict[str, dict[str, Any]], image: dict[str, Any]) -> dict[str, Any]:
    """PIMS's ``image`` (AbstractImage) and ``imageInstances`` of one of cytotile's images."""
    core = found.get(str(image.get("path", "")).split("/", 1)[0])
    return {"image": core["image"], "imageInstances": core["imageInstances"]} if core else {}


def accepted(received: Received, plan: Plan, fields: UploadFields) -> dict[str, Any]:
    """The answer for a file imported after the answer: UPLOADED, no image yet."""
    try:
        from cytotile.importer.flow import safe_name
    except ImportError as exc:
        raise ImportUnavailable(f"the import flow is not installed: {exc}") from None
    name, upload_id = safe_name(received.filename), plan.upload_id
    item: dict[str, Any] = {"id": upload_id, "original_name": name, "name": name,
                            "path": f"{upload_id}/{name}", "status": "UPLOADED",
                            "size": received.size, "images": []}  # fmt: skip
    return answer_only(item, fields, plan)


def import_later(
    run_one: Callable[[Received, Plan], dict[str, Any]],
    storage: Storage,
    files: Sequence[Received],
    plans: Sequence[Plan],
    fields: UploadFields,
    folder: str,
) -> None:
    """The background task: import each file as planned (under its announced id), record the
    fields, then remove the received files."""
    try:
        for received, plan in zip(files, plans, strict=True):
            try:
                record(storage, str(run_one(received, plan).get("id") or ""), fields, plan)
            except Exception:
                log.exception("background import of %s (%s) failed", received.filename,
                              plan.upload_id)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_upload_id() -> str:
    return f"upload-{uuid.uuid4()}"
