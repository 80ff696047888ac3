"""Archives through the import function on moto: an archive put in S3 is extracted to
``upload-<archive>/extracted/`` of the images bucket and each image in it is imported as its own
upload: enqueued on the import queue (one message each, imported exactly once under its own
lease), or, with no queue configured, in the archive's invocation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cytotile.aws import lease as leases
from cytotile.aws.events import child_notification
from cytotile.importer.archives import child_upload_id
from cytotile.storage.s3 import S3Storage
from tests.functions.support import IMAGES_BUCKET, Cloud, LambdaContext, load_handler
from tests.importer import archive_builders as build

MEMBERS = {
    "a.png": build.png(1, 200, 150),
    "scans/b.jpg": build.jpeg(2, 300, 200),
    "scans/c.png": build.png(3, 90, 60),
    "readme.txt": b"three images\n",
}


def zip_bytes(tmp_path: Any) -> bytes:
    return build.write_zip(tmp_path / "batch.zip", MEMBERS).read_bytes()


@pytest.fixture
def import_queue(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, str]:
    """A moto SQS import queue, named to the import function (CYTOTILE_IMPORT_QUEUE_URL)."""
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="cytotile-import")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    monkeypatch.setenv("CYTOTILE_IMPORT_QUEUE_URL", url)
    return sqs, url, attributes["Attributes"]["QueueArn"]


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message waiting, deleted from the queue (as the SQS trigger does once handled)."""
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        out.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def as_event(message: dict[str, Any], arn: str, receive_count: int = 1) -> dict[str, Any]:
    """What the SQS trigger hands the function for one message (BatchSize 1)."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
        ]
    }


def the_archive(cloud: Cloud) -> dict[str, Any]:
    (archive,) = [m for m in map(cloud.manifest, cloud.uploads()) if m["archive"]]
    return archive


def test_children_are_enqueued_then_imported_once(
    cloud: Cloud, lambda_context: LambdaContext, import_queue: tuple[Any, str, str], tmp_path: Any
) -> None:
    sqs, url, arn = import_queue
    handler = load_handler("import").handler
    put = cloud.put("incoming/batch.zip", zip_bytes(tmp_path))
    assert handler(put, lambda_context) == {"batchItemFailures": []}
    archive = the_archive(cloud)
    parent = archive["id"]
    assert archive["status"] == "EXTRACTED", archive["reason"]
    assert sorted(c["path"] for c in archive["children"]) == ["a.png", "scans/b.jpg", "scans/c.png"]
    assert [s["path"] for s in archive["archive"]["skipped"]] == ["readme.txt"]
    keys = cloud.list_keys()
    for path in MEMBERS:
        assert f"{parent}/extracted/{path}" in keys
    assert cloud.uploads() == [parent]  # the children wait in the queue

    messages = received(sqs, url)
    assert len(messages) == 3
    for message in messages:
        assert handler(as_event(message, arn), lambda_context) == {"batchItemFailures": []}
    children = {c["path"]: cloud.manifest(c["id"]) for c in archive["children"]}
    for path, child in children.items():
        assert child["status"] == "DEPLOYED", child["reason"]
        assert child["parent"] == parent
        assert child["id"] == child_upload_id(parent, path)
        assert f"{child['id']}/processed/visualisation.PYRTIFF" in cloud.list_keys()
    assert children["scans/b.jpg"]["image"]["width"] == 300
    assert len(cloud.uploads()) == 4
    stored = cloud.manifest(parent)  # each child wrote its final status (cytotile.aws.children)
    assert [c["status"] for c in stored["children"]] == ["DEPLOYED"] * 3
    assert stored["status"] == "EXTRACTED" and stored["history"] == archive["history"]

    # a duplicate delivery of a child: returned as it is, not downloaded nor imported again
    first = children["a.png"]
    cloud.gets.reset()
    again = next(m for m in messages if '"member":"a.png"' in m["Body"])
    assert handler(as_event(again, arn, 2), lambda_context) == {"batchItemFailures": []}
    # its manifest, and its parent's, to check that its final status is recorded there
    # (cytotile.aws.children): nothing else, and not the member
    assert cloud.gets.count(IMAGES_BUCKET) == 2
    assert {key.split("/", 1)[0] for _, key, _ in cloud.gets.calls} == {first["id"], parent}
    assert cloud.manifest(first["id"]) == first
    # and a redelivered archive enqueues nothing new: it is finished
    assert handler(put, lambda_context) == {"batchItemFailures": []}
    assert received(sqs, url) == []


def test_a_leased_child_is_left_to_its_holder(
    cloud: Cloud, lambda_context: LambdaContext, import_queue: tuple[Any, str, str], tmp_path: Any
) -> None:
    sqs, url, arn = import_queue
    handler = load_handler("import").handler
    handler(cloud.put("incoming/batch.zip", zip_bytes(tmp_path)), lambda_context)
    message = received(sqs, url)[0]
    body = json.loads(message["Body"])["Records"][0]["cytotile"]
    child_id = child_upload_id(body["parent"], body["member"])
    storage = S3Storage.from_url(f"s3://{IMAGES_BUCKET}", client=cloud.s3)
    held = leases.acquire(storage, child_id, 600)  # another delivery is importing it
    answer = handler(as_event(message, arn), lambda_context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert f"{child_id}/manifest.json" not in cloud.list_keys()
    leases.release(storage, held)
    assert handler(as_event(message, arn, 2), lambda_context) == {"batchItemFailures": []}
    assert cloud.manifest(child_id)["status"] == "DEPLOYED"


def test_a_forged_member_message_is_not_imported(
    cloud: Cloud, lambda_context: LambdaContext, import_queue: tuple[Any, str, str], tmp_path: Any
) -> None:
    sqs, url, arn = import_queue
    handler = load_handler("import").handler
    handler(cloud.put("incoming/batch.zip", zip_bytes(tmp_path)), lambda_context)
    parent = the_archive(cloud)["id"]
    before = cloud.uploads()
    # an object under the images root that is not where the archive put the member
    forged = child_notification(IMAGES_BUCKET, f"{parent}/manifest.json", 10, parent, "a.png")
    sqs.send_message(QueueUrl=url, MessageBody=forged)
    message = next(m for m in received(sqs, url) if m["Body"] == forged)
    assert handler(as_event(message, arn), lambda_context) == {"batchItemFailures": []}
    assert cloud.uploads() == before


def test_without_a_queue_children_are_imported_in_the_same_invocation(
    cloud: Cloud, lambda_context: LambdaContext, tmp_path: Any
) -> None:
    handler = load_handler("import").handler
    event = cloud.put("incoming/batch.tar.gz", build.write_tar(
        tmp_path / "batch.tar.gz", MEMBERS, "w:gz").read_bytes())  # fmt: skip
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    archive = the_archive(cloud)
    assert archive["status"] == "EXTRACTED", archive["reason"]
    assert [c["status"] for c in archive["children"]] == ["DEPLOYED"] * 3
    assert len(cloud.uploads()) == 4


def test_a_bomb_in_s3_ends_error_extraction(
    cloud: Cloud, lambda_context: LambdaContext, tmp_path: Any
) -> None:
    handler = load_handler("import").handler
    bomb = build.zeros_gzip(tmp_path / "zeros.raw.gz", 1024).read_bytes()
    assert handler(cloud.put("incoming/zeros.raw.gz", bomb), lambda_context) == {
        "batchItemFailures": []
    }
    (upload,) = cloud.uploads()
    manifest = cloud.manifest(upload)
    assert manifest["status"] == "ERROR_EXTRACTION"
    assert not any("/extracted/" in k for k in cloud.list_keys())


def test_a_gz_of_one_image_in_s3_is_that_image(
    cloud: Cloud, lambda_context: LambdaContext, tmp_path: Any
) -> None:
    import gzip

    handler = load_handler("import").handler
    event = cloud.put("incoming/scan.png.gz", gzip.compress(build.png(9, 320, 240)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    (upload,) = cloud.uploads()
    manifest = cloud.manifest(upload)
    assert manifest["status"] == "DEPLOYED", manifest["reason"]
    assert manifest["image"]["width"] == 320 and manifest["children"] == []
    original = next(f for f in manifest["files"] if f["role"] == "ORIGINAL")
    assert original["key"] == f"{upload}/extracted/scan.png"
    assert original["key"] in cloud.list_keys()  # kept in the images bucket


def test_an_archive_retried_after_enqueuing_imports_each_child_once(
    cloud: Cloud,
    lambda_context: LambdaContext,
    import_queue: tuple[Any, str, str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The archive's delivery fails after its children were enqueued (before EXTRACTED is
    recorded): SQS delivers it again, the children are enqueued twice, each is imported once."""
    from cytotile.aws import importer

    sqs, url, arn = import_queue
    real = importer.queue_children
    failures = []

    def enqueue_then_fail(
        queue_url: str, storage: Any, client: Any = None, cytomine: str | None = None
    ) -> Any:
        enqueue = real(queue_url, storage, client, cytomine)

        def run(run: Any, children: Any) -> None:
            enqueue(run, children)
            if not failures:
                failures.append(run.manifest.id)
                raise ConnectionError("the invocation lost S3 right after enqueuing")

        return run

    monkeypatch.setattr(importer, "queue_children", enqueue_then_fail)
    handler = load_handler("import").handler
    put = cloud.put("incoming/batch.zip", zip_bytes(tmp_path))
    message_id = put["Records"][0]["messageId"]
    assert handler(put, lambda_context) == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert cloud.manifest(failures[0])["status"] == "EXTRACTING_DATA"  # not final: retried
    put["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"
    assert handler(put, lambda_context) == {"batchItemFailures": []}
    assert cloud.manifest(failures[0])["status"] == "EXTRACTED"

    messages = received(sqs, url)
    assert len(messages) == 6  # each child enqueued by both deliveries
    for message in messages:
        assert handler(as_event(message, arn), lambda_context) == {"batchItemFailures": []}
    for child in cloud.manifest(failures[0])["children"]:
        manifest = cloud.manifest(child["id"])
        assert manifest["status"] == "DEPLOYED"
        steps = [(e["step"], e["phase"]) for e in manifest["history"]]
        assert steps.count(("CONVERTING", "start")) == 1 and steps.count(("DEPLOYED", "end")) == 1
