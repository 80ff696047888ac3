"""Exactly once, whatever S3 and SQS do (moto S3 and SQS, the import handler as Lambda runs it).

- the same notification delivered twice, one after the other or at the same time, is one
  upload, imported once;
- an import that crashes midway fails its message, and the redelivery completes it with the
  right pixels; an import killed midway (no outcome recorded, its lease left behind) does not
  block the retry once its lease has expired;
- a poison message: after the last delivery the upload says ERROR_* with the reason, and the
  message is in the dead-letter queue.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import numpy as np
import pytest

from tests.functions.support import (
    IMAGES_BUCKET,
    UPLOAD_BUCKET,
    Cloud,
    LambdaContext,
    load_handler,
    synthetic_jpeg,
    tile_event,
)

KEY = "incoming/slide (1).jpg"
LEASE = "import.lease"


def delivery(event: dict[str, Any], *, receive_count: int = 1, message_id: str = "") -> dict:
    """The same SQS message delivered again (``receive_count``), or another message announcing
    the same object (``message_id``: S3 may notify twice)."""
    event = copy.deepcopy(event)
    record = event["Records"][0]
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    if message_id:
        record["messageId"] = message_id
    return event


def failed(event: dict[str, Any]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


OK = {"batchItemFailures": []}

#: Powertools' metrics are process-wide: two invocations at once (never on Lambda, where a
#: process serves one at a time) share them, and one's flush can find them already published
two_lambdas_in_one_process = pytest.mark.filterwarnings("ignore:No application metrics")


def only_upload(cloud: Cloud) -> str:
    uploads = cloud.uploads()
    assert len(uploads) == 1, uploads
    return uploads[0]


@pytest.fixture(autouse=True)
def max_receive_count(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("CYTOTILE_MAX_RECEIVE_COUNT", "3")
    return 3


@pytest.fixture
def imports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The upload ids the import flow was run for (a conversion each)."""
    from cytotile.aws import importer

    calls: list[str] = []
    real = importer.import_file

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["upload_id"])
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "import_file", counted)
    return calls


@pytest.fixture
def atomic_s3_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 checks a conditional write's condition and writes atomically; moto checks, then
    writes, in the caller's thread. Serialize moto's PutObject as S3 does."""
    from moto.s3.responses import S3Response

    lock = threading.Lock()
    real = S3Response.put_object

    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return real(self, *args, **kwargs)

    monkeypatch.setattr(S3Response, "put_object", put_object)


def tile_pixels(upload_id: str, manifest: dict[str, Any], ti: int) -> np.ndarray:
    """A full-resolution tile served by the tile function."""
    from PIL import Image

    full = manifest["pyramid"]["tiers"][0]
    event = tile_event(upload_id, full["zoom"], ti)
    response = load_handler("tile").handler(event, LambdaContext())
    assert response["statusCode"] == 200, response["body"]
    with Image.open(io.BytesIO(base64.b64decode(response["body"]))) as image:
        return np.asarray(image.convert("RGB"))


def assert_right_pixels(cloud: Cloud, upload_id: str, body: bytes) -> None:
    import pyvips

    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "DEPLOYED", manifest["reason"]
    source = pyvips.Image.new_from_buffer(body, "", fail_on="error")
    expected = np.asarray(source.crop(256, 256, 256, 256).numpy())
    pixels = tile_pixels(upload_id, manifest, manifest["pyramid"]["tiers"][0]["n_tx"] + 1)
    assert pixels.shape == expected.shape
    assert float(np.abs(pixels.astype(np.int16) - expected.astype(np.int16)).mean()) < 3


def leftovers(cloud: Cloud, upload_id: str) -> list[str]:
    """What a failed attempt must not leave: served files, its lease."""
    return [
        k
        for k in cloud.list_keys()
        if k.startswith(f"{upload_id}/processed/") or k == f"{upload_id}/{LEASE}"
    ]


# ------------------------------------------------------------------------------ duplicates


def test_duplicate_notification_is_one_upload(
    cloud: Cloud, lambda_context: LambdaContext, imports: list[str]
) -> None:
    event = cloud.put(KEY, synthetic_jpeg(300, 200))
    handler = load_handler("import").handler
    assert handler(event, lambda_context) == OK
    upload_id = only_upload(cloud)
    first = cloud.manifest(upload_id)
    # S3 notifies twice (another message), SQS delivers the first one again
    again = [delivery(event, message_id="second-notification"), delivery(event, receive_count=2)]
    for event_again in again:
        assert load_handler("import").handler(event_again, lambda_context) == OK
    assert cloud.uploads() == [upload_id]
    assert cloud.manifest(upload_id) == first
    assert imports == [upload_id]
    assert f"{upload_id}/{LEASE}" not in cloud.list_keys()  # released


@two_lambdas_in_one_process
def test_concurrent_duplicate_does_not_start_a_second_import(
    cloud: Cloud,
    lambda_context: LambdaContext,
    imports: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While one delivery imports, a duplicate finds the lease taken: it fails its message
    (SQS delivers it later) instead of importing the same upload in parallel."""
    body = synthetic_jpeg(700, 600)
    event = cloud.put(KEY, body)
    duplicate = delivery(event, message_id="second-notification")
    from cytotile.aws import importer

    importing, duplicate_done = threading.Event(), threading.Event()
    real_download = importer.download

    def held_download(*args: Any) -> None:
        importing.set()  # the first delivery holds the lease now
        assert duplicate_done.wait(30)
        real_download(*args)

    monkeypatch.setattr(importer, "download", held_download)
    results: dict[str, Any] = {}

    def first() -> None:
        results["first"] = load_handler("import").handler(event, lambda_context)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert importing.wait(30)
        results["duplicate"] = load_handler("import").handler(duplicate, lambda_context)
    finally:
        duplicate_done.set()
        thread.join(60)
    assert results["duplicate"] == failed(duplicate)
    assert results["first"] == OK
    upload_id = only_upload(cloud)
    assert imports == [upload_id]
    assert_right_pixels(cloud, upload_id, body)
    # the duplicate comes back: the upload is finished, nothing is imported again
    again = delivery(duplicate, receive_count=2)
    assert load_handler("import").handler(again, LambdaContext()) == OK
    assert imports == [upload_id]


@two_lambdas_in_one_process
def test_racing_deliveries_import_once(
    cloud: Cloud,
    lambda_context: LambdaContext,
    imports: list[str],
    monkeypatch: pytest.MonkeyPatch,
    atomic_s3_writes: None,
) -> None:
    """Two deliveries of the same object race for the lease at the same instant."""
    from cytotile.aws import lease

    barrier = threading.Barrier(2, timeout=30)
    real_acquire = lease.acquire

    def racing_acquire(*args: Any, **kwargs: Any) -> Any:
        barrier.wait()
        return real_acquire(*args, **kwargs)

    monkeypatch.setattr(lease, "acquire", racing_acquire)
    for n in range(3):
        event = cloud.put(f"incoming/race-{n}.jpg", synthetic_jpeg(200 + n, 150))
        events = [event, delivery(event, message_id=f"duplicate-{n}")]
        results: list[Any] = [None, None]

        def run(i: int, events: list[dict] = events, results: list[Any] = results) -> None:
            results[i] = load_handler("import").handler(events[i], lambda_context)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        # one imported; the other found the lease taken (failed, retried later) or, when the
        # first had already finished, the finished upload
        assert OK in results, results
        assert all(r in (OK, failed(e)) for r, e in zip(results, events, strict=True)), results
    uploads = cloud.uploads()
    assert len(uploads) == 3
    assert sorted(imports) == uploads  # each imported once
    for upload_id in uploads:
        assert cloud.manifest(upload_id)["status"] == "DEPLOYED"
        assert f"{upload_id}/{LEASE}" not in cloud.list_keys()


# ------------------------------------------------------------------------------ crashes


def test_crash_midway_is_retried_and_completes(
    cloud: Cloud, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = synthetic_jpeg(700, 600)
    event = cloud.put(KEY, body)
    from cytotile.importer import flow

    real_deploy = flow._deploy
    crashes: list[str] = []

    def crash_once(run: Any, pyramid: Path, *args: Any) -> None:
        if not crashes:  # half deployed, then the connection drops
            crashes.append(run.manifest.id)
            run.storage.upload_file(f"{run.manifest.id}/processed/visualisation.PYRTIFF", pyramid)
            raise ConnectionResetError(104, "Connection reset by peer")
        real_deploy(run, pyramid, *args)

    monkeypatch.setattr(flow, "_deploy", crash_once)
    assert load_handler("import").handler(event, lambda_context) == failed(event)
    upload_id = only_upload(cloud)
    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "DEPLOYING"  # not final: the retry is not blocked
    assert "ConnectionResetError" in manifest["reason"]
    assert manifest["history"][-1]["phase"] == "interrupted"
    assert leftovers(cloud, upload_id) == []  # nothing half deployed is left to serve

    assert load_handler("import").handler(delivery(event, receive_count=2), lambda_context) == OK
    assert cloud.uploads() == [upload_id]
    assert_right_pixels(cloud, upload_id, body)
    manifest = cloud.manifest(upload_id)
    assert manifest["reason"] is None
    assert [h["phase"] for h in manifest["history"]].count("interrupted") == 1  # kept


def test_sandbox_failure_is_retried(
    cloud: Cloud, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child process cannot even start (a non-domain error): not a verdict on the file."""
    body = synthetic_jpeg(300, 200)
    event = cloud.put(KEY, body)
    from cytotile.importer import flow

    real = flow.run_isolated
    calls: list[str] = []

    def fork_fails_once(target: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(target)
        if target.endswith(":convert") and calls.count(target) == 1:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real(target, *args, **kwargs)

    monkeypatch.setattr(flow, "run_isolated", fork_fails_once)
    assert load_handler("import").handler(event, lambda_context) == failed(event)
    assert load_handler("import").handler(delivery(event, receive_count=2), lambda_context) == OK
    assert cloud.manifest(only_upload(cloud))["status"] == "DEPLOYED"


class Killed(BaseException):
    """The Lambda runtime stopping the process: nothing after it runs, nothing is released."""


@pytest.fixture
def killed_in_conversion(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict], None]]:
    """Run a delivery that is killed in the middle of the conversion."""
    from cytotile.aws import lease
    from cytotile.importer import flow

    real_run, real_release = flow.run_isolated, lease.release

    def run(event: dict) -> None:
        def killing(target: str, *args: Any, **kwargs: Any) -> Any:
            if target.endswith(":convert"):
                raise Killed
            return real_run(target, *args, **kwargs)

        monkeypatch.setattr(flow, "run_isolated", killing)
        monkeypatch.setattr(lease, "release", lambda *args: None)
        try:
            with pytest.raises(Killed):
                load_handler("import").handler(event, LambdaContext())
        finally:
            monkeypatch.setattr(flow, "run_isolated", real_run)
            monkeypatch.setattr(lease, "release", real_release)

    yield run


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the leases' clock ``seconds`` ahead."""
    from cytotile.aws import lease

    clock = types.SimpleNamespace(time=lambda: time.time() + seconds)
    monkeypatch.setattr(lease, "time", clock)


def test_killed_import_is_taken_over_once_its_lease_expires(
    cloud: Cloud,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    killed_in_conversion: Callable[[dict], None],
) -> None:
    body = synthetic_jpeg(700, 600)
    event = cloud.put(KEY, body)
    killed_in_conversion(event)
    upload_id = only_upload(cloud)
    assert cloud.manifest(upload_id)["status"] == "CONVERTING"
    assert f"{upload_id}/{LEASE}" in cloud.list_keys()  # left behind by the dead process

    # SQS delivers it again while the lease may still be its holder's: not imported twice
    retry = delivery(event, receive_count=2)
    assert load_handler("import").handler(retry, lambda_context) == failed(retry)
    assert cloud.manifest(upload_id)["status"] == "CONVERTING"

    later(monkeypatch, 900 + 61)  # the dead invocation's 15 minutes, and the margin
    assert load_handler("import").handler(retry, lambda_context) == OK
    assert_right_pixels(cloud, upload_id, body)
    assert f"{upload_id}/{LEASE}" not in cloud.list_keys()


def test_last_delivery_after_a_kill_records_the_error(
    cloud: Cloud,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    imports: list[str],
    killed_in_conversion: Callable[[dict], None],
) -> None:
    """Killed on the delivery before the last one: the last one records ERROR_CONVERSION with
    the reason (rather than be killed again and leave the upload CONVERTING for ever)."""
    event = cloud.put(KEY, synthetic_jpeg(300, 200))
    killed_in_conversion(delivery(event, receive_count=2))
    later(monkeypatch, 900 + 61)
    last = delivery(event, receive_count=3)
    assert load_handler("import").handler(last, lambda_context) == failed(last)  # to the DLQ
    upload_id = only_upload(cloud)
    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "ERROR_CONVERSION"
    assert "stopped during CONVERTING" in manifest["reason"]
    assert len(imports) == 1  # the killed one only: not tried a third time
    assert leftovers(cloud, upload_id) == []
    # a delivery after that (a duplicate notification) finds the final status
    assert load_handler("import").handler(delivery(event, message_id="late"), LambdaContext()) == OK


# ------------------------------------------------------------------------------ poison


def sqs_event(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """What Lambda's SQS trigger passes for one received message."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }


def test_poison_message_ends_in_the_dlq_with_an_error_status(
    cloud: Cloud,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    max_receive_count: int,
) -> None:
    """The queue and its redrive policy as in template.yaml; Lambda's SQS trigger played by
    hand: receive, invoke, delete what succeeded."""
    import boto3

    from cytotile.aws import queue
    from cytotile.importer import flow

    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName="import-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    redrive = {
        "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
        "maxReceiveCount": str(max_receive_count),
    }
    url = sqs.create_queue(
        QueueName="import",
        Attributes={"VisibilityTimeout": "5400", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn = arn["Attributes"]["QueueArn"]
    cloud.s3.put_bucket_notification_configuration(
        Bucket=UPLOAD_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    monkeypatch.setattr(queue, "BACKOFF_S", 0.0)  # the handler brings failed messages back now

    attempts: list[str] = []

    def refused(run: Any, *args: Any) -> None:
        attempts.append(run.manifest.id)
        raise PermissionError(13, "the images bucket refuses the pyramid")

    monkeypatch.setattr(flow, "_deploy", refused)
    cloud.s3.put_object(Bucket=UPLOAD_BUCKET, Key=KEY, Body=synthetic_jpeg(200, 100))

    handler = load_handler("import").handler
    receive_counts: list[str] = []
    for _ in range(10):
        received = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]
        ).get("Messages", [])
        if not received:
            break
        (message,) = received
        result = handler(sqs_event(message, arn), lambda_context)
        if result["batchItemFailures"]:
            receive_counts.append(message["Attributes"]["ApproximateReceiveCount"])
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert receive_counts == ["1", "2", "3"]
    assert len(attempts) == 3

    (dead,) = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    key = json.loads(dead["Body"])["Records"][0]["s3"]["object"]["key"]
    assert unquote_plus(key) == KEY
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    upload_id = only_upload(cloud)
    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "ERROR_DEPLOYMENT"
    assert manifest["reason"].startswith("failed on the last of 3 deliveries: PermissionError")
    assert "refuses the pyramid" in manifest["reason"]
    assert leftovers(cloud, upload_id) == []
    assert cloud.list_keys(IMAGES_BUCKET) == [f"{upload_id}/manifest.json"]
