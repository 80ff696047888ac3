"""Parsing of S3 / SQS-of-S3 events, key decoding and the deterministic upload id."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from cytotile.aws.events import (
    EventError,
    S3ObjectRef,
    is_test_event,
    messages,
    s3_refs,
    upload_id_for,
)

EVENTS = Path(__file__).resolve().parents[1] / "events"
BUCKET = "cytotile-dev-uploadbucket-1q2w3e4r5t6y"
KEY = "incoming/CMU-1 Small Regioné.svs"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def test_direct_s3_put_event() -> None:
    (ref,) = s3_refs(load("s3_put.json"))
    assert ref == S3ObjectRef(
        bucket=BUCKET,
        key=KEY,
        size=1938955,
        etag="1ad6e35c9d17e4d85fb7e3143b328efe",
        version_id=None,
    )
    assert ref.basename == "CMU-1 Small Regioné.svs"
    assert ref.url == f"s3://{BUCKET}/{KEY}"


def test_sqs_wrapped_s3_put_event() -> None:
    event = load("sqs_s3_put.json")
    assert s3_refs(event) == s3_refs(load("s3_put.json"))
    (message,) = messages(event)
    assert message.message_id == "2e1424d4-f796-459a-8184-9c92662be6da"
    assert message.error is None


def test_s3_test_event_is_ignored() -> None:
    event = load("sqs_s3_test_event.json")
    assert is_test_event(json.loads(event["Records"][0]["body"]))
    assert s3_refs(event) == []
    (message,) = messages(event)
    assert message.refs == [] and message.error is None
    # and invoked directly (S3 -> Lambda sends it too)
    assert s3_refs(json.loads(event["Records"][0]["body"])) == []


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("a+b.svs", "a b.svs"),
        ("a%2Bb.svs", "a+b.svs"),  # a real plus sign
        ("dir%2Fsub%2Fx.tif", "dir/sub/x.tif"),  # moto encodes '/', S3 does not
        ("dir/sub/x.tif", "dir/sub/x.tif"),
        ("%E6%97%A5%E6%9C%AC+%28copy%29.ndpi", "日本 (copy).ndpi"),
        ("100%25.jpg", "100%.jpg"),
    ],
)
def test_every_key_is_url_decoded(encoded: str, decoded: str) -> None:
    event = load("s3_put.json")
    second = copy.deepcopy(event["Records"][0])
    second["s3"]["object"]["key"] = encoded
    event["Records"].append(second)
    refs = s3_refs(event)
    assert [r.key for r in refs] == [KEY, decoded]


def test_only_created_objects_and_no_folder_markers() -> None:
    event = load("s3_put.json")
    removed = copy.deepcopy(event["Records"][0])
    removed["eventName"] = "ObjectRemoved:Delete"
    folder = copy.deepcopy(event["Records"][0])
    folder["s3"]["object"]["key"] = "incoming/"
    multipart = copy.deepcopy(event["Records"][0])
    multipart["eventName"] = "ObjectCreated:CompleteMultipartUpload"
    multipart["s3"]["object"].update(
        key="big.svs", eTag="0a1b2c3d-12", versionId="3HL4kqtJvjVBH40Nrjfkd"
    )
    event["Records"] += [removed, folder, multipart]
    refs = s3_refs(event)
    assert [r.key for r in refs] == [KEY, "big.svs"]
    assert refs[1].etag == "0a1b2c3d-12"
    assert refs[1].version_id == "3HL4kqtJvjVBH40Nrjfkd"


def test_sns_envelope_is_unwrapped() -> None:
    event = load("sqs_s3_put.json")
    record = event["Records"][0]
    record["body"] = json.dumps(
        {"Type": "Notification", "MessageId": "x", "Message": record["body"]}
    )
    assert s3_refs(event) == s3_refs(load("s3_put.json"))


def test_a_malformed_message_fails_alone() -> None:
    event = load("sqs_s3_put.json")
    bad = copy.deepcopy(event["Records"][0])
    bad["messageId"] = "bad-one"
    bad["body"] = "not json"
    event["Records"].append(bad)
    good, broken = messages(event)
    assert good.error is None and len(good.refs) == 1
    assert broken.message_id == "bad-one" and broken.refs == [] and broken.error
    with pytest.raises(EventError, match="bad-one"):
        s3_refs(event)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": "x"},
        {"Records": [{"eventSource": "aws:s3"}]},
        {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {}}}]},
        {"Records": [{"eventSource": "aws:dynamodb", "s3": {}}]},
    ],
)
def test_malformed_events_raise(event: dict[str, Any]) -> None:
    with pytest.raises(EventError):
        s3_refs(event)


def test_upload_id_is_deterministic() -> None:
    ref = s3_refs(load("sqs_s3_put.json"))[0]
    uid = upload_id_for(ref)
    assert uid.startswith("upload-")
    assert uuid.UUID(uid.removeprefix("upload-")).version == 5
    # the same object delivered twice (directly or through SQS) is one upload
    assert upload_id_for(s3_refs(load("s3_put.json"))[0]) == uid
    # another content, key or bucket is another upload
    assert upload_id_for(S3ObjectRef(ref.bucket, ref.key, ref.size, "ffff")) != uid
    assert upload_id_for(S3ObjectRef(ref.bucket, ref.key + "x", ref.size, ref.etag)) != uid
    assert upload_id_for(S3ObjectRef("other", ref.key, ref.size, ref.etag)) != uid
    # without an ETag, the version, then the size discriminate
    a = S3ObjectRef("b", "k", 10, None, "v1")
    assert upload_id_for(a) != upload_id_for(S3ObjectRef("b", "k", 10, None, "v2"))
    assert upload_id_for(S3ObjectRef("b", "k", 10)) != upload_id_for(S3ObjectRef("b", "k", 11))
    # stable across processes and releases: a fixed value
    assert upload_id_for(S3ObjectRef("b", "k", 10)) == "upload-2b8b9eae-1d52-5618-a369-90bdded593a5"


def test_moto_notifications_parse(aws_env: None) -> None:
    """What S3 (here moto) really puts in the queue: the test event, then the encoded key."""
    import boto3
    from moto import mock_aws

    key = "incoming/CMU-1 Small Regioné+x.svs"
    with mock_aws():
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        s3.create_bucket(Bucket="uploads")
        url = sqs.create_queue(QueueName="import")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        s3.put_bucket_notification_configuration(
            Bucket="uploads",
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
        s3.put_object(Bucket="uploads", Key=key, Body=b"abc")
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    event = {
        "Records": [
            {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
            for m in received
        ]
    }
    assert len(event["Records"]) == 2  # the s3:TestEvent, then the put
    (ref,) = s3_refs(event)
    assert (ref.bucket, ref.key, ref.size) == ("uploads", key, 3)
    assert ref.etag == "900150983cd24fb0d6963f7d28e17f72"  # md5 of b"abc"
