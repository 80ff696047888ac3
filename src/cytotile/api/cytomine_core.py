"""Registering a Cytomine upload in the core before it is imported, as PIMS does
(``CYTOTILE_CORE_URL``, ``CYTOTILE_CORE_KEYS``).

For ``POST /upload?idStorage=&idProject=&keys=&values=`` the request was signed by a Cytomine
user (checked by :mod:`cytotile.api.cytomine_auth`, whose key pair the scope carries). Then:

1. ``GET imageserver.json`` (this server's key pair): the image server whose ``url`` is
   ``CYTOTILE_CORE_IMAGE_SERVER_URL`` (default: the request's scheme and host);
2. as the user: ``GET user/current.json``, ``GET storage/<idStorage>.json``, ``GET
   project/<id>.json`` for each project (a refusal: 400, PIMS's "Cytomine core communication
   error"; no answer: 502);
3. per file, as the user: ``POST uploadedfile.json`` (``originalFilename``, ``filename`` =
   ``upload-<id>/<name>``, the path cytotile serves it at, ``size``, ``ext``, ``projects``,
   ``storage``, ``user``, ``imageServer``, ``status`` 0): the core's id is the one it knows.

Each file's import then runs with a :class:`~cytotile.importer.core_callback.CytomineListener`
(this server's key pair) that creates the images in the core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from cytotile.api.cytomine_auth import VERIFIED, VERIFIED_PRIVATE
from cytotile.api.errors import ImportUnavailable, Unauthorized
from cytotile.errors import CoreProblem, CoreUnavailable

if TYPE_CHECKING:
    from cytotile.api.cytomine import UploadFields
    from cytotile.api.multipart import Received
    from cytotile.cytomine_core import CoreClient, CoreError
    from cytotile.importer.core_callback import CytomineListener
    from cytotile.settings import ServerSettings
    from cytotile.storage.base import Storage


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one received file is imported: under an id announced before the import (or one the
    flow picks), with the core's listener when the upload is registered there."""

    upload_id: str | None = None
    listener: CytomineListener | None = None


def core_of(settings: ServerSettings) -> CoreClient | None:
    if not settings.core_url:
        return None
    from cytotile.cytomine_core import CoreClient

    return CoreClient.from_settings(settings.core_url, settings.core_keys)


def plans(
    request: Request,
    storage: Storage,
    files: Sequence[Received],
    fields: UploadFields,
    *,
    remote: bool = False,
) -> list[Plan]:
    """One plan per file (blocking: the core may be called). ``remote``: the files are imported
    by the import function (on AWS, :mod:`cytotile.api.upload_s3`), not here: each gets its id
    now, and its name as its object's key will have it."""
    from cytotile.api.cytomine import new_upload_id
    from cytotile.api.routing import context

    core = core_of(context(request).settings) if fields.storage is not None else None
    if core is None:
        return [Plan(new_upload_id() if fields.in_background or remote else None) for _ in files]
    if not remote:  # nothing is registered in the core for an upload this server cannot import
        try:
            import cytotile.importer.flow  # noqa: F401
        except ImportError as exc:
            raise ImportUnavailable(f"the import flow is not installed: {exc}") from None
    user_core = _as_user(core, request)
    server_id = _image_server(core, context(request).settings, request)
    user = _fetch(user_core, "user/current.json", "the signing user")
    _fetch(user_core, f"storage/{fields.storage}.json", f"Storage {fields.storage}")
    for project in fields.projects:
        _fetch(user_core, f"project/{project}.json", f"Project {project}")
    return [_register(core, user_core, storage, f, fields, user["id"], server_id, remote)
            for f in files]  # fmt: skip


def _as_user(core: CoreClient, request: Request) -> CoreClient:
    public, private = request.scope.get(VERIFIED), request.scope.get(VERIFIED_PRIVATE)
    if not public or not private:
        raise Unauthorized("a Cytomine upload must be signed by a Cytomine user")
    return core.as_user(public, private)


def _problem(exc: CoreError, what: str) -> CoreProblem:
    if exc.status is None:
        return CoreUnavailable(f"the Cytomine core could not be asked: {exc}")
    if exc.status in (403, 404):
        return CoreProblem(f"{what} not found in the Cytomine core")
    return CoreProblem(f"the Cytomine core refused: {exc}")


def _fetch(core: CoreClient, uri: str, what: str) -> dict[str, Any]:
    from cytotile.cytomine_core import CoreError

    try:
        found = core.get(uri)
    except CoreError as exc:
        raise _problem(exc, what) from None
    if not isinstance(found, dict) or "id" not in found:
        raise CoreProblem(f"{what} not found in the Cytomine core")
    return found


def _image_server(core: CoreClient, settings: ServerSettings, request: Request) -> Any:
    """This server's id among the core's image servers (found by URL, as PIMS finds it)."""
    from cytotile.cytomine_core import CoreError

    own = f"{request.url.scheme}://{request.url.netloc}"  # the server's root, as PIMS_URL
    url = (settings.core_image_server_url or own).rstrip("/")
    try:
        found = core.get("imageserver.json")
    except CoreError as exc:
        raise _problem(exc, "The image servers") from None
    servers = found.get("collection", []) if isinstance(found, dict) else []
    for server in servers:
        if isinstance(server, dict) and str(server.get("url", "")).rstrip("/") == url:
            return server.get("id")
    raise CoreProblem(f"this image server ({url}) is not found on the Cytomine core")


def _register(
    core: CoreClient,
    user_core: CoreClient,
    storage: Storage,
    received: Received,
    fields: UploadFields,
    user_id: Any,
    server_id: Any,
    remote: bool = False,
) -> Plan:
    from cytotile.api.cytomine import new_upload_id
    from cytotile.cytomine_core import CoreError
    from cytotile.importer.core_callback import CODES, CytomineListener

    if remote:  # the name of the object's key (its import keeps it as it is)
        from cytotile.api.presigned import safe_filename as safe_name
    else:
        from cytotile.importer.flow import safe_name
    upload_id, name = new_upload_id(), safe_name(received.filename)
    body = {"originalFilename": name, "filename": f"{upload_id}/{name}", "size": received.size,
            "ext": name.rsplit(".", 1)[-1].lower() if "." in name else "", "contentType": "",
            "projects": list(fields.projects), "storage": fields.storage, "user": user_id,
            "imageServer": server_id, "status": CODES["UPLOADED"]}  # fmt: skip
    try:
        uf = user_core.saved("POST", "uploadedfile.json", body, "uploadedfile")
    except CoreError as exc:
        raise _problem(exc, "The uploaded file") from None
    listener = CytomineListener(core, storage, upload_id, uf, fields.projects, fields.properties)
    return Plan(upload_id, listener)
