"""``POST /upload/presigned``: a browser uploads straight to the S3 upload bucket.

The body is JSON ``{"filename": "slide.svs", "size": 123456789, "content_type": "..."}``
(``content_type`` optional). When the server's upload root (``CYTOTILE_UPLOAD_ROOT``) is
``s3://bucket/prefix``, the answer is, for a file of at least one part (16 MiB, grown so that
there are at most 1,000 parts):

    {"kind": "multipart", "bucket": ..., "key": "<prefix>/<uuid>/<safe name>",
     "upload_id": ..., "part_size": 16777216, "expires_in": 21600,
     "parts": [{"part_number": 1, "url": ...}, ...],
     "complete_url": ..., "abort_url": ...}

The browser PUTs byte range ``[(n - 1) * part_size, n * part_size)`` of the file to part n's URL
and keeps each answer's ``ETag`` header (the bucket's CORS must expose ``ETag``), then POSTs
``<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"..."</ETag></Part>...
</CompleteMultipartUpload>`` to ``complete_url`` (or sends DELETE to ``abort_url`` to give up).
A smaller file gets one presigned PUT:

    {"kind": "put", "bucket": ..., "key": ..., "url": ..., "headers": {"Content-Type": ...},
     "expires_in": 21600}

The object landing in the upload bucket starts the import, as any upload there does. Without an
S3 upload root (a local server) the answer is 501: upload with ``POST /upload`` instead. A body
that is not such a JSON object answers 422.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api import cytomine
from cytotile.api.admin import require_admin
from cytotile.api.cytomine_core import Plan
from cytotile.api.errors import MalformedBody, error_response
from cytotile.api.http import JSON
from cytotile.api.routing import MAX_BODY, PatternRoute, context, parse_json
from cytotile.errors import BadParameter, StorageError

MiB = 1 << 20
PART_SIZE = 16 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_URL_PARTS = 1000  # keeps the answer under about 1.5 MB, far below Lambda's 6 MB
MAX_SIZE = MAX_URL_PARTS * MAX_PART_SIZE
EXPIRES_S = 6 * 3600
MAX_NAME = 200
CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+\"-]+)*$", re.ASCII)


def safe_filename(name: str) -> str:
    """The last path segment of ``name``, ASCII letters, digits, ``.``, ``-`` and ``_`` only."""
    name = unicodedata.normalize("NFKD", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = name.encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    name = re.sub(r"_*\._*", ".", name).strip("._-")  # "slide (1).svs": slide_1.svs
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) <= 16:
            name = f"{stem[: MAX_NAME - len(ext) - 1]}.{ext}"
        else:
            name = name[:MAX_NAME]
    return name or "upload"


def part_size_for(size: int) -> int:
    """16 MiB, grown in whole MiB so that no more than ``MAX_URL_PARTS`` parts are needed."""
    needed = -(-size // MAX_URL_PARTS)
    return max(PART_SIZE, -(-needed // MiB) * MiB)


def _parse(body: bytes) -> tuple[str, int, str]:
    try:
        data = parse_json(body) if body.strip() else None
    except MalformedBody as exc:
        raise BadParameter(exc.details) from None
    if not isinstance(data, dict):
        raise BadParameter('the body must be a JSON object {"filename", "size", "content_type"}')
    filename, size = data.get("filename"), data.get("size")
    content_type = data.get("content_type") or "application/octet-stream"
    if not isinstance(filename, str) or not filename.strip():
        raise BadParameter("filename: a non-empty string is required")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise BadParameter("size: a whole number of bytes (0 or more) is required")
    if size > MAX_SIZE:
        raise BadParameter(f"size: {size} bytes is more than the largest upload ({MAX_SIZE})")
    if not isinstance(content_type, str) or not CONTENT_TYPE.match(content_type):
        raise BadParameter("content_type: a media type such as image/tiff is required")
    return filename, size, content_type


def s3_client(request: Request) -> Any:
    """An S3 client for signing, made once per app (``AWS_ENDPOINT_URL`` for LocalStack)."""
    client = getattr(request.app.state, "presign_client", None)
    if client is None:
        import boto3
        from botocore.config import Config

        config = Config(signature_version="s3v4", retries={"max_attempts": 4, "mode": "standard"})
        client = request.app.state.presign_client = boto3.client("s3", config=config)
    return client


def _presign(
    client: Any, bucket: str, key: str, size: int, content_type: str, meta: dict[str, str]
) -> dict[str, Any]:
    sign = client.generate_presigned_url
    base = {"Bucket": bucket, "Key": key}
    if size < PART_SIZE:  # the metadata is signed: the browser sends it as headers
        params = {**base, "ContentType": content_type, "Metadata": meta}
        url = sign("put_object", Params=params, ExpiresIn=EXPIRES_S, HttpMethod="PUT")
        headers = {"Content-Type": content_type, **{f"x-amz-meta-{k}": v for k, v in meta.items()}}
        return {"kind": "put", "bucket": bucket, "key": key, "url": url, "headers": headers,
                "expires_in": EXPIRES_S}  # fmt: skip
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        created = client.create_multipart_upload(**base, ContentType=content_type, Metadata=meta)
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"S3 refused to start the upload: {exc}") from exc
    upload_id = str(created["UploadId"])
    part_size = part_size_for(size)
    count = -(-size // part_size)
    ident = {**base, "UploadId": upload_id}
    parts = [
        {
            "part_number": n,
            "url": sign("upload_part", Params={**ident, "PartNumber": n}, ExpiresIn=EXPIRES_S),
        }
        for n in range(1, count + 1)
    ]
    return {
        "kind": "multipart",
        "bucket": bucket,
        "key": key,
        "upload_id": upload_id,
        "part_size": part_size,
        "expires_in": EXPIRES_S,
        "parts": parts,
        "complete_url": sign(
            "complete_multipart_upload", Params=ident, ExpiresIn=EXPIRES_S, HttpMethod="POST"
        ),
        "abort_url": sign(
            "abort_multipart_upload", Params=ident, ExpiresIn=EXPIRES_S, HttpMethod="DELETE"
        ),
    }


async def presigned_upload(request: Request) -> Response:
    require_admin(request)
    root = context(request).settings.upload_root
    target = urlparse(root)
    if target.scheme != "s3" or not target.netloc:
        return error_response(
            501,
            "Presigned upload not available",
            "this server has no S3 upload root (CYTOTILE_UPLOAD_ROOT=s3://bucket/prefix): "
            "upload the file with POST /upload instead",
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadParameter(f"the JSON body is larger than {MAX_BODY} bytes")
    from cytotile.api import upload_s3  # which imports this module

    filename, size, content_type = _parse(body)
    name = safe_filename(filename)
    plan, meta = await run_in_threadpool(_plan, request, name, size)
    assert plan.upload_id is not None
    bucket, key = upload_s3.object_key(root, plan.upload_id, name)
    client = s3_client(request)
    answer = await run_in_threadpool(_presign, client, bucket, key, size, content_type, meta)
    fields = cytomine.parse_fields(request.query_params)
    answer["upload"] = upload_s3.accepted(plan, name, size, fields)
    return JSON(answer, headers={"Cache-Control": "no-store"})


def _plan(request: Request, name: str, size: int) -> tuple[Plan, dict[str, str]]:
    """The upload's id, registered in the Cytomine core for a Cytomine call (the same query
    fields as ``POST /upload``: ``idStorage``, ``idProject``, ``keys``, ``values``), and the
    object's metadata that carries both to the import function."""
    from cytotile.api import cytomine_core, upload_s3
    from cytotile.api.multipart import Received

    fields = cytomine.parse_fields(request.query_params)
    upload_s3.check_fits(fields)
    received = Received("files[]", name, Path(name), size)
    storage = context(request).storage
    (plan,) = cytomine_core.plans(request, storage, [received], fields, remote=True)
    return plan, upload_s3.metadata(plan, fields)


def routes() -> list[BaseRoute]:
    return [PatternRoute("/upload/presigned", presigned_upload, ("POST",), "presigned_upload")]
