"""The import function (functions/import/app.py) against moto S3, fed recorded SQS events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cytotile.aws.events import S3ObjectRef
from tests.functions.support import (
    IMAGES_BUCKET,
    UPLOAD_BUCKET,
    Cloud,
    LambdaContext,
    batch,
    load_event,
    load_handler,
    sqs_put_event,
    synthetic_jpeg,
)

KEY = "incoming/tissue (2) é+1.jpg"


def only_upload(cloud: Cloud) -> str:
    uploads = cloud.uploads()
    assert len(uploads) == 1, uploads
    return uploads[0]


def test_s3_put_through_sqs_is_deployed(
    cloud: Cloud, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    event = cloud.put(KEY, synthetic_jpeg())
    handler = load_handler("import").handler
    assert handler(event, lambda_context) == {"batchItemFailures": []}

    upload_id = only_upload(cloud)
    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "DEPLOYED", manifest["reason"]
    assert manifest["original_name"] == "tissue (2) é+1.jpg"
    assert manifest["format_id"] == "JPEG"
    assert manifest["source"] == {"ref": f"s3://{UPLOAD_BUCKET}/{KEY}"}
    upload = next(f for f in manifest["files"] if f["role"] == "UPLOAD")
    assert upload["is_reference"] and upload["key"] == f"s3://{UPLOAD_BUCKET}/{KEY}"
    keys = cloud.list_keys()
    assert f"{upload_id}/processed/visualisation.PYRTIFF" in keys
    assert f"{upload_id}/processed/histogram" in keys
    # referenced where it was uploaded, not copied
    assert not any(k.endswith(".jpg") for k in keys)
    # the upload is still there, and nothing was left in the work directory
    cloud.s3.head_object(Bucket=UPLOAD_BUCKET, Key=KEY)
    assert os.listdir(os.environ["CYTOTILE_WORKDIR"]) == []

    # JSON log lines, the core's included, carry the upload id as the correlation id
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    core = [line for line in lines if str(line.get("name", "")).startswith("cytotile")]
    assert core, lines
    assert all(line["service"] == "cytotile-import" for line in lines)
    assert all(line["correlation_id"] == upload_id for line in core)
    assert any("DEPLOYED" in line["message"] for line in core)


def test_redelivery_is_one_upload(cloud: Cloud, lambda_context: LambdaContext) -> None:
    event = cloud.put(KEY, synthetic_jpeg(300, 200))
    handler = load_handler("import").handler
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    upload_id = only_upload(cloud)
    first = cloud.manifest(upload_id)

    cloud.gets.reset()
    assert handler(event, lambda_context) == {"batchItemFailures": []}  # SQS delivers again
    assert load_handler("import").handler(event, lambda_context) == {"batchItemFailures": []}
    assert only_upload(cloud) == upload_id
    assert cloud.manifest(upload_id) == first  # returned as it was, not imported again
    assert cloud.gets.count(UPLOAD_BUCKET) == 0  # nor downloaded again


def test_direct_s3_event(cloud: Cloud, lambda_context: LambdaContext) -> None:
    """S3 -> Lambda without the queue: the same import, the same upload id as through SQS."""
    event = cloud.put(KEY, synthetic_jpeg(300, 200))
    direct = json.loads(event["Records"][0]["body"])
    assert load_handler("import").handler(direct, lambda_context) == {"batchItemFailures": []}
    upload_id = only_upload(cloud)
    assert cloud.manifest(upload_id)["status"] == "DEPLOYED"
    load_handler("import").handler(event, lambda_context)
    assert cloud.uploads() == [upload_id]


def test_corrupt_object_is_a_handled_error_format(
    cloud: Cloud, lambda_context: LambdaContext
) -> None:
    body = os.urandom(256 * 1024)
    event = cloud.put("incoming/broken.svs", body)
    assert load_handler("import").handler(event, lambda_context) == {"batchItemFailures": []}
    upload_id = only_upload(cloud)
    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "ERROR_FORMAT"
    assert manifest["reason"]
    assert f"{upload_id}/processed/visualisation.PYRTIFF" not in cloud.list_keys()
    assert [k for k in cloud.list_keys() if "/processed/" in k] == []


def test_test_event_is_ignored(cloud: Cloud, lambda_context: LambdaContext) -> None:
    handler = load_handler("import").handler
    assert handler(load_event("sqs_s3_test_event.json"), lambda_context) == {
        "batchItemFailures": []
    }
    assert cloud.list_keys() == []
    assert cloud.gets.count() == 0


def test_gone_or_replaced_objects_are_skipped(cloud: Cloud, lambda_context: LambdaContext) -> None:
    gone = cloud.put("incoming/gone.jpg", synthetic_jpeg(64, 64))
    cloud.s3.delete_object(Bucket=UPLOAD_BUCKET, Key="incoming/gone.jpg")
    replaced = cloud.put("incoming/replaced.jpg", synthetic_jpeg(64, 64))
    cloud.s3.put_object(Bucket=UPLOAD_BUCKET, Key="incoming/replaced.jpg", Body=b"new content")
    handler = load_handler("import").handler
    assert handler(batch(gone, replaced), lambda_context) == {"batchItemFailures": []}
    assert cloud.uploads() == []


def test_objects_under_the_images_root_are_not_imported(
    cloud: Cloud, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the images bucket to notify the queue too, an import's own writes would loop."""
    body = synthetic_jpeg(64, 64)
    etag = cloud.s3.put_object(Bucket=IMAGES_BUCKET, Key="tiles/x.jpg", Body=body)["ETag"]
    event = sqs_put_event("tiles/x.jpg", etag=etag.strip('"'), size=len(body))
    record = event["Records"][0]
    record["body"] = record["body"].replace(UPLOAD_BUCKET, IMAGES_BUCKET)
    monkeypatch.setenv("CYTOTILE_ROOT", f"s3://{IMAGES_BUCKET}/tiles")
    assert load_handler("import").handler(event, lambda_context) == {"batchItemFailures": []}
    assert cloud.list_keys() == ["tiles/x.jpg"]
    assert cloud.gets.count() == 0


def test_unexpected_failure_fails_only_its_message(
    cloud: Cloud, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = cloud.put(KEY, synthetic_jpeg(300, 200))
    bad = cloud.put("incoming/other.jpg", synthetic_jpeg(64, 64))
    bad["Records"][0]["messageId"] = "message-s3-down"
    malformed = load_event("sqs_s3_put.json")
    malformed["Records"][0].update(messageId="message-not-s3", body="{not json")

    from cytotile.aws import importer

    real_download = importer.download

    def flaky_download(client: Any, ref: S3ObjectRef, local: Path) -> None:
        if ref.key == "incoming/other.jpg":
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="https://s3.eu-west-1.amazonaws.com")
        real_download(client, ref, local)

    monkeypatch.setattr(importer, "download", flaky_download)
    result = load_handler("import").handler(batch(bad, good, malformed), lambda_context)
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "message-s3-down"},
            {"itemIdentifier": "message-not-s3"},
        ]
    }
    assert cloud.manifest(only_upload(cloud))["status"] == "DEPLOYED"  # the good one went on


def test_images_bucket_unavailable_is_retried(cloud: Cloud, lambda_context: LambdaContext) -> None:
    event = cloud.put(KEY, synthetic_jpeg(64, 64))
    cloud.s3.delete_bucket(Bucket=IMAGES_BUCKET)
    result = load_handler("import").handler(event, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_direct_event_failure_raises(cloud: Cloud, lambda_context: LambdaContext) -> None:
    """Without a queue there is no partial batch response: raising makes Lambda retry."""
    event = cloud.put(KEY, synthetic_jpeg(64, 64))
    cloud.s3.delete_bucket(Bucket=IMAGES_BUCKET)
    with pytest.raises(Exception, match="NoSuchBucket"):
        load_handler("import").handler(json.loads(event["Records"][0]["body"]), lambda_context)


def test_settings_are_built_lazily(
    cloud: Cloud, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytotile import settings

    calls: list[type] = []
    real = settings.from_env

    def counting(cls: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(cls)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(settings, "from_env", counting)
    module = load_handler("import")
    monkeypatch.setattr(module, "from_env", counting)
    assert calls == []
    test_event = load_event("sqs_s3_test_event.json")
    module.handler(test_event, lambda_context)
    module.handler(test_event, lambda_context)
    assert calls == [settings.ImportSettings]
