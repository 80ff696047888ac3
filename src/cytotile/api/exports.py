"""Downloads: ``GET /image/{path}/export`` (the upload as uploaded, or ``?representation=``
ORIGINAL / SPATIAL / HISTOGRAM) and ``GET /file/{path}/export`` (a file with a role in its
upload, or the upload folder as a zip), with ``?filename=`` for ``Content-Disposition``.

A local file is answered by Starlette's FileResponse (ranges, HEAD, bounded memory). On S3 the
answer is a redirect to a presigned GET of the object (valid ``PRESIGN_SECONDS``): S3 serves the
bytes and the ranges, so a Lambda never carries a large file (its response is at most 6 MB). A
folder is zipped as it is read (chunked, no Content-Length, no ranges); on Lambda only while it
fits in the response limit.
"""

from __future__ import annotations

import mimetypes
import os
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from cytotile import exports
from cytotile.api.openapi import Op, Param
from cytotile.api.routing import context, route
from cytotile.errors import TooLarge
from cytotile.pipeline.args import Args
from cytotile.storage.base import Storage

PRESIGN_SECONDS = 900
LAMBDA_RESPONSE_LIMIT = 5 * 1024 * 1024  # under the 6 MB of a buffered Lambda response
NO_STORE = {"Cache-Control": "no-store"}


def disposition(name: str) -> str:
    """``attachment; filename="..."`` (ASCII fallback) and ``filename*`` (RFC 6266, UTF-8)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def media_type(name: str, is_zip: bool) -> str:
    if is_zip:
        return "application/zip"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _answer(storage: Storage, export: exports.Export, name: str) -> Response:
    headers = {"Content-Disposition": disposition(name), **NO_STORE}
    kind = media_type(name, export.is_zip)
    if export.is_zip:
        on_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
        if on_lambda and exports.size_of(storage, export) > LAMBDA_RESPONSE_LIMIT:
            raise TooLarge(
                f"{export.folder!r} is larger than a Lambda response can carry zipped; "
                "export its files one by one (each is a redirect to S3)"
            )
        return StreamingResponse(exports.zip_chunks(storage, export), 200, headers, kind)
    (key,) = export.keys
    local = storage.local_path(key) if export.bucket is None else None
    if local is not None:
        return FileResponse(local, headers=headers, media_type=kind)
    from cytotile.storage.s3 import S3Storage

    if isinstance(storage, S3Storage):  # a short-lived presigned GET, the download's name in it
        bucket, full = export.bucket or storage.bucket, key
        if export.bucket is None and storage.prefix:
            full = f"{storage.prefix}/{key}"
        url = storage.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": full,
                "ResponseContentDisposition": headers["Content-Disposition"],
                "ResponseContentType": kind,
            },
            ExpiresIn=PRESIGN_SECONDS,
        )
        return RedirectResponse(url, 307, headers=NO_STORE)
    size = storage.size(key)
    body = exports.read_chunks(storage, key)
    return StreamingResponse(body, 200, {**headers, "Content-Length": str(size)}, kind)


def _filename(request: Request, export: exports.Export) -> str:
    """``?filename=`` as given (commas included), or the export's own name."""
    name = (request.query_params.get("filename") or "").strip().replace("/", "_") or export.name
    if export.is_zip and not name.endswith(".zip"):
        name += ".zip"
    return name


def export_image(request: Request, args: Args) -> Response:
    storage = context(request).storage
    representation = request.query_params.get("representation") or "UPLOAD"
    export = exports.resolve_image(storage, request.path_params["path"], representation)
    return _answer(storage, export, _filename(request, export))


def export_file(request: Request, args: Args) -> Response:
    storage = context(request).storage
    export = exports.resolve_file(storage, request.path_params["path"])
    return _answer(storage, export, _filename(request, export))


FILENAME = Param("filename", {"type": "string"}, "the name in Content-Disposition")
_STATUSES = {206: "A range of a local file", 307: "On S3: a presigned GET of the object"}
IMAGE_DOC = Op(
    "Download the upload as uploaded, or another representation of the image",
    tags=["files"],
    returns="application/octet-stream",
    query=(
        FILENAME,
        Param("representation", {"type": "string", "enum": list(exports.ROLES)}, "UPLOAD"),
    ),
    statuses=_STATUSES,
)
FILE_DOC = Op(
    "Download a file of an upload (one with a role), or the upload folder as a zip",
    tags=["files"],
    returns="application/octet-stream",
    query=(FILENAME,),
    statuses=_STATUSES,
)


def routes() -> list[BaseRoute]:
    return [
        route("/image/{path}/export", export_image, ("GET", "HEAD"), doc=IMAGE_DOC),
        route("/file/{path}/export", export_file, ("GET", "HEAD"), doc=FILE_DOC),
    ]
