"""Helpers of the Lambda handler tests: recorded events, the GetObject counter, the handlers
loaded from functions/<name>/app.py (fresh per test, so their lazy state resets)."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
SAMPLES = ROOT.parent / "shared" / "samples"
UPLOAD_BUCKET = "cytotile-dev-uploadbucket-1q2w3e4r5t6y"  # the recorded events' bucket
IMAGES_BUCKET = "images-bucket"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def s3_encode(key: str) -> str:
    """A key as S3 writes it in a notification: form-encoded, slashes kept."""
    return quote_plus(key, safe="/")


def sqs_put_event(key: str, *, etag: str, size: int, message_id: str | None = None) -> dict:
    """The recorded S3 -> SQS event, announcing ``key`` (with its ETag and size) instead."""
    event = load_event("sqs_s3_put.json")
    record = event["Records"][0]
    body = json.loads(record["body"])
    body["Records"][0]["s3"]["object"].update(key=s3_encode(key), eTag=etag, size=size)
    record["body"] = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    record["md5OfBody"] = hashlib.md5(record["body"].encode()).hexdigest()
    if message_id is not None:
        record["messageId"] = message_id
    return event


def batch(*events: dict) -> dict:
    """Several SQS events' records as one batch."""
    return {"Records": [copy.deepcopy(r) for e in events for r in e["Records"]]}


@dataclass
class Counter:
    """GetObject calls made through the counting client, by bucket."""

    calls: list[tuple[str, str, str | None]] = field(default_factory=list)  # bucket, key, range

    def __call__(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """The ``before-call.s3.GetObject`` hook: ``params`` is the request about to be sent."""
        api = context["input_params"]
        self.calls.append((api["Bucket"], api["Key"], params["headers"].get("Range")))

    def count(self, bucket: str | None = None) -> int:
        return sum(1 for b, _, _ in self.calls if bucket is None or b == bucket)

    def reset(self) -> None:
        self.calls.clear()


@dataclass
class Cloud:
    s3: Any  # the counting client (also the one S3Storage uses)
    gets: Counter

    def put(self, key: str, body: bytes) -> dict:
        """Upload ``body`` to the upload bucket; return the SQS event S3 would deliver."""
        etag = self.s3.put_object(Bucket=UPLOAD_BUCKET, Key=key, Body=body)["ETag"].strip('"')
        return sqs_put_event(key, etag=etag, size=len(body))

    def list_keys(self, bucket: str = IMAGES_BUCKET) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def uploads(self) -> list[str]:
        return sorted({k.split("/", 1)[0] for k in self.list_keys() if k.startswith("upload-")})

    def manifest(self, upload_id: str) -> dict:
        body = self.s3.get_object(Bucket=IMAGES_BUCKET, Key=f"{upload_id}/manifest.json")["Body"]
        manifest: dict[str, Any] = json.loads(body.read())
        return manifest


_loaded = 0


def load_handler(name: str) -> ModuleType:
    """``functions/<name>/app.py`` as a fresh module (the three are all called ``app``)."""
    global _loaded
    _loaded += 1
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"_cytotile_fn_{name}_{_loaded}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    function_name: str = "cytotile-dev-ImportFunction-Ab12Cd34Ef56"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:eu-west-1:123456789012:function:cytotile-dev-ImportFunction-Ab12Cd34Ef56"
    )
    memory_limit_in_mb: int = 3008
    aws_request_id: str = "6f1c9a3e-2b7d-4e8f-9a0b-1c2d3e4f5a6b"
    log_group_name: str = "/aws/lambda/cytotile-dev-ImportFunction-Ab12Cd34Ef56"
    log_stream_name: str = "2025/11/22/[$LATEST]0123456789abcdef0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample {name} is absent (expected in {SAMPLES})")
    return path


def synthetic_jpeg(width: int = 700, height: int = 600) -> bytes:
    from cytotile.synthetic import tissue_image

    return bytes(tissue_image(width, height, seed=3).jpegsave_buffer(Q=92))


def tile_event(
    image_path: str, zoom: int, ti: int, *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The recorded API Gateway REST event, for another image and tile; ``headers`` are added
    (to ``headers`` and ``multiValueHeaders``, as API Gateway does)."""
    text = (EVENTS / "apigw_rest_normalized_tile.json").read_text(encoding="utf-8")
    for placeholder, value in (
        ("__IMAGE_PATH__", image_path),
        ("__ZOOM__", str(zoom)),
        ("__TI__", str(ti)),
    ):
        text = text.replace(placeholder, value)
    event: dict[str, Any] = json.loads(text)
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def response_header(response: dict[str, Any], name: str) -> str | None:
    """A header of a Mangum (API Gateway REST) response, by case-insensitive name."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return ",".join(values)
    return None
