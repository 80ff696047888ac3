"""Collections through the import function on moto: a file holding several images put in S3
ends EXTRACTED and each image is imported as its own upload (enqueued with its series index,
exactly once under its own lease, or inline without a queue); forged series messages import
nothing; and a collection's stored manifest ends with its children's final statuses, each child
writing its own under the parent's lease (an archive's: tests/functions/test_archives_moto.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cytotile.aws import children as child_side
from cytotile.aws import lease as leases
from cytotile.aws.events import child_notification
from cytotile.importer.series import series_child_id
from cytotile.manifest import PYRAMID_NAME
from cytotile.pyramid import Region
from cytotile.storage.s3 import S3Storage
from cytotile.tiff.reader import PyramidReader
from tests.functions.support import (
    IMAGES_BUCKET,
    UPLOAD_BUCKET,
    Cloud,
    LambdaContext,
    load_handler,
)
from tests.functions.test_archives_moto import as_event, received
from tests.importer.test_series import FLUO, RGB, write_ome


@pytest.fixture
def queue(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, str]:
    """A moto SQS import queue, named to the import function (CYTOTILE_IMPORT_QUEUE_URL)."""
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="cytotile-import")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    monkeypatch.setenv("CYTOTILE_IMPORT_QUEUE_URL", url)
    return sqs, url, arn["QueueArn"]


def ome_bytes(tmp_path: Path) -> bytes:
    images = [(FLUO, "CYX", "fluo"), (RGB, "YXS", "brightfield")]  # two: each import costs
    return write_ome(tmp_path / "two.ome.tif", images).read_bytes()


def the_collection(cloud: Cloud) -> dict[str, Any]:
    (parent,) = [m for m in map(cloud.manifest, cloud.uploads()) if m["children"]]
    return parent


def test_images_of_a_file_are_enqueued_then_imported_once(
    cloud: Cloud, lambda_context: LambdaContext, queue: tuple[Any, str, str], tmp_path: Path
) -> None:
    sqs, url, arn = queue
    handler = load_handler("import").handler
    put = cloud.put("incoming/two.ome.tif", ome_bytes(tmp_path))
    assert handler(put, lambda_context) == {"batchItemFailures": []}
    parent = the_collection(cloud)
    assert parent["status"] == "EXTRACTED", parent["reason"]
    assert [c["series"] for c in parent["children"]] == [0, 1]
    assert [c["status"] for c in parent["children"]] == ["UPLOADED"] * 2
    assert cloud.uploads() == [parent["id"]]  # the images wait in the queue
    assert not any("/extracted/" in k for k in cloud.list_keys())  # nothing copied

    messages = received(sqs, url)
    assert len(messages) == 2
    for message in messages:
        assert handler(as_event(message, arn), lambda_context) == {"batchItemFailures": []}
    stored = cloud.manifest(parent["id"])
    assert [c["status"] for c in stored["children"]] == ["DEPLOYED"] * 2  # written by each child
    kids = [cloud.manifest(c["id"]) for c in parent["children"]]
    for k, kid in enumerate(kids):
        assert kid["status"] == "DEPLOYED", kid["reason"]
        assert kid["id"] == series_child_id(parent["id"], k)
        assert kid["parent"] == parent["id"] and kid["source"]["series"] == k
        assert kid["original_name"] == parent["children"][k]["name"]
        upload = next(f for f in kid["files"] if f["role"] == "UPLOAD")
        assert upload["key"] == f"s3://{UPLOAD_BUCKET}/incoming/two.ome.tif"
    storage = S3Storage.from_url(f"s3://{IMAGES_BUCKET}", client=cloud.s3)
    reader = PyramidReader.load(storage, f"{kids[0]['id']}/{PYRAMID_NAME}")
    for c in range(2):
        region = reader.read_region(c, 0, Region(0, 0, FLUO.shape[2], FLUO.shape[1]))
        assert np.array_equal(region[..., 0], FLUO[c])

    # a duplicate delivery of an image: returned as it is, not downloaded nor imported again
    cloud.gets.reset()
    assert handler(as_event(messages[0], arn, 2), lambda_context) == {"batchItemFailures": []}
    assert cloud.gets.count(UPLOAD_BUCKET) == 0
    assert handler(put, lambda_context) == {"batchItemFailures": []}  # the parent: finished
    assert received(sqs, url) == []


def test_without_a_queue_the_images_are_imported_in_the_same_invocation(
    cloud: Cloud, lambda_context: LambdaContext, tmp_path: Path
) -> None:
    handler = load_handler("import").handler
    put = cloud.put("incoming/two.ome.tif", ome_bytes(tmp_path))
    assert handler(put, lambda_context) == {"batchItemFailures": []}
    parent = the_collection(cloud)
    assert parent["status"] == "EXTRACTED", parent["reason"]
    assert [c["status"] for c in parent["children"]] == ["DEPLOYED"] * 2
    assert len(cloud.uploads()) == 3


def test_forged_series_messages_import_nothing(
    cloud: Cloud, lambda_context: LambdaContext, queue: tuple[Any, str, str], tmp_path: Path
) -> None:
    sqs, url, arn = queue
    handler = load_handler("import").handler
    handler(cloud.put("incoming/two.ome.tif", ome_bytes(tmp_path)), lambda_context)
    parent = the_collection(cloud)
    received(sqs, url)
    cloud.put("incoming/other.ome.tif", ome_bytes(tmp_path))
    name = parent["children"][1]["name"]
    forged = [  # another object, an index the parent does not list, a name it does not give
        child_notification(UPLOAD_BUCKET, "incoming/other.ome.tif", 9, parent["id"], None,
                           series=1, name=name),
        child_notification(UPLOAD_BUCKET, "incoming/two.ome.tif", 9, parent["id"], None,
                           series=5, name=name),
        child_notification(UPLOAD_BUCKET, "incoming/two.ome.tif", 9, parent["id"], None,
                           series=1, name="x"),
        child_notification(UPLOAD_BUCKET, "incoming/two.ome.tif", 9, "upload-nothing", None,
                           series=0, name=name),
    ]  # fmt: skip
    for body in forged:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    for message in received(sqs, url):
        assert handler(as_event(message, arn), lambda_context) == {"batchItemFailures": []}
    assert cloud.uploads() == [parent["id"]]


def test_a_child_waits_for_its_parents_lease_then_reports_on_redelivery(
    cloud: Cloud,
    lambda_context: LambdaContext,
    queue: tuple[Any, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs, url, arn = queue
    monkeypatch.setattr(child_side, "WAIT_S", 0.2)
    handler = load_handler("import").handler
    handler(cloud.put("incoming/two.ome.tif", ome_bytes(tmp_path)), lambda_context)
    parent = the_collection(cloud)
    message = received(sqs, url)[0]
    child_id = series_child_id(parent["id"], json.loads(message["Body"])["Records"][0][
        "cytotile"]["series"])  # fmt: skip
    storage = S3Storage.from_url(f"s3://{IMAGES_BUCKET}", client=cloud.s3)
    held = leases.acquire(storage, parent["id"], 600)  # e.g. a retried parent being imported
    answer = handler(as_event(message, arn), lambda_context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert cloud.manifest(child_id)["status"] == "DEPLOYED"  # imported; its report is late
    entry = next(c for c in cloud.manifest(parent["id"])["children"] if c["id"] == child_id)
    assert entry["status"] == "UPLOADED"
    leases.release(storage, held)
    assert handler(as_event(message, arn, 2), lambda_context) == {"batchItemFailures": []}
    entry = next(c for c in cloud.manifest(parent["id"])["children"] if c["id"] == child_id)
    assert entry["status"] == "DEPLOYED"


def test_a_child_failing_outside_the_flow_is_recorded_in_its_parent(
    cloud: Cloud,
    lambda_context: LambdaContext,
    queue: tuple[Any, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A child refused before its import starts (here: no room for it) is recorded ERROR_* as
    the parent's child, and its parent's manifest says so."""
    from cytotile.aws import importer

    sqs, url, arn = queue
    handler = load_handler("import").handler
    handler(cloud.put("incoming/two.ome.tif", ome_bytes(tmp_path)), lambda_context)
    parent = the_collection(cloud)
    message = received(sqs, url)[1]
    monkeypatch.setattr(importer, "disk_shortage", lambda size, workdir: "no room for it")
    assert handler(as_event(message, arn), lambda_context) == {"batchItemFailures": []}
    kid = cloud.manifest(parent["children"][1]["id"])
    assert (kid["status"], kid["reason"], kid["parent"]) == (
        "ERROR_CONVERSION",
        "no room for it",
        parent["id"],
    )
    assert kid["original_name"] == parent["children"][1]["name"]
    entry = cloud.manifest(parent["id"])["children"][1]
    assert (entry["status"], entry["reason"]) == ("ERROR_CONVERSION", "no room for it")
