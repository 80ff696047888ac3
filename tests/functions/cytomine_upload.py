"""Helpers of the Cytomine upload tests on moto: the upload function's environment (the template's
UploadFunction: CYTOTILE_UPLOAD_ROOT under the upload bucket, the core), Cytomine's signed
``POST /ims/upload`` as an API Gateway REST event, and the S3 -> SQS event of the object it
wrote, for the import function."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from email.utils import formatdate
from typing import Any

import pytest
import pyvips

from tests.functions.support import EVENTS, UPLOAD_BUCKET, load_handler, sqs_put_event
from tests.helpers.fake_core import SERVER, USER, Core

BOUNDARY = "cytotile-test-boundary"
QUERY = "idStorage=12&idProject=34,35&keys=k1,k2&values=v1,v2"
PNG = bytes(pyvips.Image.xyz(300, 200)[0].cast("uchar").pngsave_buffer())


def configure(monkeypatch: pytest.MonkeyPatch, core: Core) -> None:
    """The functions' environment as the template sets it, with the fake core (its keys in the
    environment here; a Secrets Manager secret on AWS)."""
    monkeypatch.setenv("CYTOTILE_UPLOAD_ROOT", f"s3://{UPLOAD_BUCKET}/incoming")
    monkeypatch.setenv("CYTOTILE_CORE_URL", core.url)
    monkeypatch.setenv("CYTOTILE_CORE_KEYS", ":".join(SERVER))
    monkeypatch.setenv("CYTOTILE_CORE_IMAGE_SERVER_URL", core.image_server_url)
    monkeypatch.setenv("CYTOTILE_API_BASE_PATH", "/ims")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cytotile-upload")


def form(name: str = "small.png", data: bytes = PNG) -> bytes:
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files[]"; '
            f'filename="{name}"\r\nContent-Type: image/png\r\n\r\n')  # fmt: skip
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def signed_event(
    path: str, query: str, body: bytes, kind: str, pair: tuple[str, str] = USER
) -> dict[str, Any]:
    """``POST <path>?<query>`` signed as Cytomine's clients sign it, as API Gateway's REST event
    (the body base64-encoded: the API's binary media types are */*)."""
    date = formatdate(usegmt=True)
    text = f"POST\n\n{kind}\n{date}\n{path}?{query}"
    signature = base64.b64encode(hmac.new(pair[1].encode(), text.encode(), hashlib.sha1).digest())
    headers = {"Content-Type": kind, "Date": date, "Content-Length": str(len(body)),
               "authorization": f"CYTOMINE {pair[0]}:{signature.decode()}"}  # fmt: skip
    event: dict[str, Any] = json.loads((EVENTS / "apigw_rest_normalized_tile.json").read_text())
    event.update(httpMethod="POST", path=path, resource="/ims/upload", isBase64Encoded=True)
    event["pathParameters"] = None
    pairs = [p.split("=", 1) for p in query.split("&") if p]
    event["queryStringParameters"] = dict(pairs) or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in pairs} or None
    for name, value in headers.items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    event["body"] = base64.b64encode(body).decode()
    return event


def upload_event(query: str = QUERY, data: bytes = PNG, name: str = "small.png") -> dict[str, Any]:
    kind = f"multipart/form-data; boundary={BOUNDARY}"
    return signed_event("/ims/upload", query, form(name, data), kind)


def upload(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The upload function (functions/tile/app.py, as the template deploys UploadFunction)."""
    answer: dict[str, Any] = load_handler("tile").handler(event, context)
    return answer


def import_written(s3: Any, key: str, context: Any) -> dict[str, Any]:
    """The import function on the S3 -> SQS event of the object at ``key``."""
    head = s3.head_object(Bucket=UPLOAD_BUCKET, Key=key)
    event = sqs_put_event(key, etag=head["ETag"].strip('"'), size=head["ContentLength"])
    answer: dict[str, Any] = load_handler("import").handler(event, context)
    return answer
