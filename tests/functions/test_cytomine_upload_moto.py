"""Cytomine's upload on AWS (issue 9), through the Lambda handlers on moto with the fake core of
the API tests (tests/helpers/fake_core.py): ``POST /ims/upload`` to the upload function checks
the user, storage and projects with the core, creates the ``UploadedFile``, writes the file into
the upload bucket with its context as metadata; the import function, on that object's S3 -> SQS
event, registers the images in the core as a local server does. Presigned uploads too."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from cytotile import upload_context
from cytotile.api import presigned, upload_s3
from tests.functions.cytomine_upload import (
    PNG,
    QUERY,
    configure,
    import_written,
    signed_event,
    upload,
    upload_event,
)
from tests.functions.support import (
    UPLOAD_BUCKET,
    Cloud,
    LambdaContext,
    load_handler,
    sqs_put_event,
)
from tests.helpers.fake_core import IMAGE_SERVER_ID, SERVER, USER, USER_ID, Core, running


@pytest.fixture
def core(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[Core]:
    with running() as fake:
        configure(monkeypatch, fake)
        yield fake


def written(cloud: Cloud) -> list[str]:
    return cloud.list_keys(UPLOAD_BUCKET)


def check_registered(core: Core, cloud: Cloud, upload_id: str, uf_id: int) -> None:
    """What the import function's listener created in the core (calls it carried out), as
    locally."""
    statuses = [c["body"]["status"] for c in core.done("PUT", rf"uploadedfile/{uf_id}\.json")]
    assert statuses[0] == 10 and statuses[-1] == 100  # DETECTING_FORMAT ... DEPLOYED
    assert all(c["signer"] == SERVER[0] for c in core.calls if c["method"] in ("PUT", "POST")
               and "uploadedfile.json" not in c["path"])  # fmt: skip
    (ai,) = [c["body"] for c in core.done("POST", r"abstractimage\.json")]
    assert (ai["uploadedFile"], ai["width"], ai["height"]) == (uf_id, 300, 200)
    assert core.done("POST", r"abstractslice\.json")
    instances = [c["body"]["project"] for c in core.done("POST", r"imageinstance\.json")]
    assert instances == [34, 35]
    props = {p["key"]: p["value"] for c in core.done("POST", "property") for p in c["body"]}
    assert (props["k1"], props["k2"]) == ("v1", "v2")
    manifest = cloud.manifest(upload_id)  # imported under the announced id
    assert manifest["status"] == "DEPLOYED"
    assert manifest["source"]["cytomine"]["uploadedFile"] == uf_id


def test_upload_registered_written_then_imported(
    cloud: Cloud, core: Core, lambda_context: LambdaContext
) -> None:
    answer = upload(upload_event(), lambda_context)
    assert answer["statusCode"] == 200, answer["body"]
    (item,) = json.loads(answer["body"])
    upload_id, uploaded = item["id"], item["uploadedFile"]
    assert (item["status"], item["images"], uploaded["status"]) == ("UPLOADED", [], 0)
    assert [(c["method"], c["path"], c["signer"]) for c in core.calls[:7]] == [
        ("GET", f"/api/userkey/{USER[0]}/keys.json", SERVER[0]),
        ("GET", "/api/imageserver.json", SERVER[0]),
        ("GET", "/api/user/current.json", USER[0]),
        ("GET", "/api/storage/12.json", USER[0]),
        ("GET", "/api/project/34.json", USER[0]),
        ("GET", "/api/project/35.json", USER[0]),
        ("POST", "/api/uploadedfile.json", USER[0]),
    ]
    assert core.calls[6]["body"] == {
        "originalFilename": "small.png", "filename": f"{upload_id}/small.png",
        "size": len(PNG), "ext": "png", "contentType": "", "projects": [34, 35], "storage": 12,
        "user": USER_ID, "imageServer": IMAGE_SERVER_ID, "status": 0}  # fmt: skip
    key = f"incoming/{upload_id}/small.png"
    assert written(cloud) == [key]
    head = cloud.s3.head_object(Bucket=UPLOAD_BUCKET, Key=key)
    assert cloud.s3.get_object(Bucket=UPLOAD_BUCKET, Key=key)["Body"].read() == PNG
    found_id, context = upload_context.decode(head["Metadata"])
    assert found_id == upload_id and context == {
        "uploadedFile": uploaded["id"], "storage": 12, "projects": [34, 35],
        "properties": [["k1", "v1"], ["k2", "v2"]], "user": USER_ID,
        "imageServer": IMAGE_SERVER_ID}  # fmt: skip
    assert not any(secret in json.dumps(head["Metadata"]) for secret in (USER[1], SERVER[1]))

    before = len(core.calls)
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    assert core.calls[before]["path"] == f"/api/uploadedfile/{uploaded['id']}.json"  # as it is
    check_registered(core, cloud, upload_id, uploaded["id"])
    again = len(core.calls)  # a redelivered notification: already imported, nothing sent again
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    assert len(core.calls) == again


def test_sync_is_answered_with_the_uploaded_file_as_created(
    cloud: Cloud, core: Core, lambda_context: LambdaContext
) -> None:
    answer = upload(upload_event(QUERY + "&sync=true"), lambda_context)
    assert answer["statusCode"] == 200, answer["body"]
    (item,) = json.loads(answer["body"])
    assert item["status"] == "UPLOADED" and item["uploadedFile"]["status"] == 0
    assert item["uploadedFile"]["id"] in core.objects["uploadedfile"]


@pytest.mark.parametrize("announced", [True, False])  # by Content-Length, or as it streams
def test_a_body_over_the_lambda_limit_is_413(
    cloud: Cloud,
    core: Core,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    announced: bool,
) -> None:
    monkeypatch.setattr(upload_s3, "MAX_BODY", 1000)  # the PNG's form is larger
    event = upload_event()
    if not announced:
        del event["headers"]["Content-Length"], event["multiValueHeaders"]["Content-Length"]
    answer = upload(event, lambda_context)
    assert answer["statusCode"] == 413
    assert "POST /upload/presigned" in json.loads(answer["body"])["details"]
    assert not core.of("POST") and written(cloud) == []


def test_a_project_the_core_lacks_writes_nothing(
    cloud: Cloud, core: Core, lambda_context: LambdaContext
) -> None:
    answer = upload(upload_event("idStorage=12&idProject=77"), lambda_context)
    assert answer["statusCode"] == 400
    assert "Project 77 not found" in json.loads(answer["body"])["details"]
    assert not core.of("POST") and written(cloud) == []


def test_a_context_too_large_for_s3_metadata_is_refused_first(
    cloud: Cloud, core: Core, lambda_context: LambdaContext
) -> None:
    query = f"idStorage=12&keys=k&values={'v' * 2000}"
    answer = upload(upload_event(query), lambda_context)
    assert answer["statusCode"] == 422
    assert "2048" in json.loads(answer["body"])["details"]
    assert not core.calls[2:] and written(cloud) == []  # only the signature's key was asked


def test_an_unsigned_upload_is_401(cloud: Cloud, core: Core, lambda_context: LambdaContext) -> None:
    event = upload_event()
    del event["headers"]["authorization"], event["multiValueHeaders"]["authorization"]
    assert upload(event, lambda_context)["statusCode"] == 401
    assert written(cloud) == []


@pytest.mark.parametrize("kind", ["put", "multipart"])
def test_presigned_upload_registered_and_imported(
    cloud: Cloud,
    core: Core,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    if kind == "multipart":
        monkeypatch.setattr(presigned, "PART_SIZE", len(PNG))  # one part: the whole file
    ask = json.dumps({"filename": "small.png", "size": len(PNG)}).encode()
    event = signed_event("/ims/upload/presigned", QUERY, ask, "application/json")
    answer = upload(event, lambda_context)
    assert answer["statusCode"] == 200, answer["body"]
    plan: dict[str, Any] = json.loads(answer["body"])
    assert plan["kind"] == kind
    item = plan["upload"]
    upload_id, uf_id = item["id"], item["uploadedFile"]["id"]
    assert plan["key"] == f"incoming/{upload_id}/small.png"
    assert core.of("POST", r"uploadedfile\.json")[0]["body"]["filename"] == f"{upload_id}/small.png"
    s3, key = cloud.s3, plan["key"]
    if kind == "put":  # the browser sends the signed headers: the metadata among them
        meta = {k.removeprefix("x-amz-meta-"): v for k, v in plan["headers"].items()
                if k.startswith("x-amz-meta-")}  # fmt: skip
        s3.put_object(Bucket=UPLOAD_BUCKET, Key=key, Body=PNG, Metadata=meta)
    else:  # the metadata was given when the multipart upload was created
        ident = {"Bucket": UPLOAD_BUCKET, "Key": key, "UploadId": plan["upload_id"]}
        etag = s3.upload_part(**ident, PartNumber=1, Body=PNG)["ETag"]
        parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
        s3.complete_multipart_upload(**ident, MultipartUpload=parts)
    assert import_written(s3, key, lambda_context) == {"batchItemFailures": []}
    check_registered(core, cloud, upload_id, uf_id)


def import_queue(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, str]:
    """The import queue (moto's SQS) the import function enqueues an archive's images on: its
    client, URL and ARN."""
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="cytotile-import")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    monkeypatch.setenv("CYTOTILE_IMPORT_QUEUE_URL", url)
    return sqs, url, arn["Attributes"]["QueueArn"]


def test_an_archives_children_through_the_queue_are_registered_as_its_children(
    cloud: Cloud,
    core: Core,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """Each image of an archive is imported in its own invocation (the import queue): the
    context rides in its message, and its UploadedFile is created as the archive's child."""
    from tests.functions.test_archives_moto import as_event, received
    from tests.importer import archive_builders as build

    sqs, url, arn = import_queue(monkeypatch)
    members = {"a.png": build.png(1, 200, 150), "scans/b.png": build.png(2, 90, 60)}
    data = build.write_zip(tmp_path / "batch.zip", members).read_bytes()
    answer = upload(upload_event(data=data, name="batch.zip"), lambda_context)
    assert answer["statusCode"] == 200, answer["body"]
    (item,) = json.loads(answer["body"])
    archive_uf = item["uploadedFile"]["id"]
    key = f"incoming/{item['id']}/batch.zip"
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    assert core.objects["uploadedfile"][archive_uf]["status"] == 102  # EXTRACTED
    handler = load_handler("import").handler
    for message in received(sqs, url):
        event = as_event(message, arn)
        assert handler(event, lambda_context) == {"batchItemFailures": []}
    made = {
        c["body"]["originalFilename"]: c["body"] for c in core.of("POST", r"uploadedfile\.json")
    }
    assert made["a.png"]["parent"] == made["b.png"]["parent"] == archive_uf
    widths = sorted(c["body"]["width"] for c in core.of("POST", r"abstractimage\.json"))
    assert widths == [90, 200]
    instances = [c["body"]["project"] for c in core.of("POST", r"imageinstance\.json")]
    assert sorted(instances) == [34, 34, 35, 35]
    children = [c["id"] for c in cloud.manifest(item["id"])["children"]]
    recorded = {cloud.manifest(c)["source"]["cytomine"]["uploadedFile"] for c in children}
    assert len(recorded) == 2 and archive_uf not in recorded  # each child's own


def test_an_archives_child_whose_core_was_down_is_registered_on_its_next_delivery(
    cloud: Cloud,
    core: Core,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """A child imported in its own invocation while the core does not answer at its image:
    the child is DEPLOYED, its message fails, and its next delivery registers the image as
    the archive's child, once; a delivery after that sends nothing."""
    from tests.functions.test_archives_moto import as_event, received
    from tests.importer import archive_builders as build

    sqs, url, arn = import_queue(monkeypatch)
    data = build.write_zip(tmp_path / "one.zip", {"a.png": build.png(1, 200, 150)}).read_bytes()
    (item,) = json.loads(upload(upload_event(data=data, name="one.zip"), lambda_context)["body"])
    assert import_written(cloud.s3, f"incoming/{item['id']}/one.zip", lambda_context) == {
        "batchItemFailures": []
    }
    (message,) = received(sqs, url)
    event = as_event(message, arn)
    handler = load_handler("import").handler
    core.refuse[r"^abstractimage"] = 503
    assert handler(event, lambda_context)["batchItemFailures"]  # delivered again later
    (child,) = [c["id"] for c in cloud.manifest(item["id"])["children"]]
    assert cloud.manifest(child)["status"] == "DEPLOYED"
    assert not core.done("POST", r"abstractimage\.json")
    core.refuse.clear()
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    (ai,) = [c["body"] for c in core.done("POST", r"abstractimage\.json")]
    child_uf = cloud.manifest(child)["source"]["cytomine"]["uploadedFile"]
    assert ai["uploadedFile"] == child_uf
    assert core.objects["uploadedfile"][child_uf]["parent"] == item["uploadedFile"]["id"]
    assert core.objects["uploadedfile"][child_uf]["status"] == 100  # DEPLOYED
    instances = sorted(c["body"]["project"] for c in core.done("POST", r"imageinstance\.json"))
    assert instances == [34, 35]
    files = [f for f in core.objects["uploadedfile"].values() if f["originalFilename"] == "a.png"]
    assert len(files) == 1
    before = len(core.done("POST"))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert len(core.done("POST")) == before


def test_a_failure_recorded_without_importing_is_told_to_the_core(
    cloud: Cloud, core: Core, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytotile.aws import importer

    monkeypatch.setattr(importer, "disk_shortage", lambda size, workdir: "no room (test)")
    (item,) = json.loads(upload(upload_event(), lambda_context)["body"])
    key = f"incoming/{item['id']}/small.png"
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    assert cloud.manifest(item["id"])["status"] == "ERROR_CONVERSION"
    uf = core.objects["uploadedfile"][item["uploadedFile"]["id"]]
    assert uf["status"] == 31  # ERROR_CONVERSION, as the listener sends it


def test_an_upload_without_cytomine_fields_is_imported_under_the_announced_id(
    cloud: Cloud, core: Core, lambda_context: LambdaContext
) -> None:
    answer = upload(upload_event(""), lambda_context)  # signed, but no idStorage: no core
    assert answer["statusCode"] == 200, answer["body"]
    (item,) = json.loads(answer["body"])
    assert item["status"] == "UPLOADED" and item["uploadedFile"]["status"] == 0
    key = f"incoming/{item['id']}/small.png"
    head = cloud.s3.head_object(Bucket=UPLOAD_BUCKET, Key=key)
    assert upload_context.decode(head["Metadata"]) == (item["id"], None)
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    manifest = cloud.manifest(item["id"])
    assert manifest["status"] == "DEPLOYED" and "cytomine" not in manifest["source"]
    assert not core.of("POST") and not core.of("PUT")


def test_the_import_functions_cytomine_side_needs_no_api_package() -> None:
    """ImportFunction carries no Starlette: its Cytomine modules (the listener, the core's
    client, the secret) import without it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('starlette', 'mangum', 'shapely', 'anyio'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import cytotile.aws.importer, cytotile.aws.cytomine, cytotile.api.cytomine_secret\n"
        "import cytotile.importer.core_callback, cytotile.importer.core_models\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_file_s3_refuses_is_an_error_in_the_core(
    cloud: Cloud, core: Core, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    class Refusing:
        def upload_file(self, *args: Any, **kwargs: Any) -> None:
            error = {"Error": {"Code": "AccessDenied", "Message": "denied"}}
            raise ClientError(error, "PutObject")

    monkeypatch.setattr(upload_s3, "s3_client", lambda request: Refusing())
    answer = upload(upload_event(), lambda_context)
    assert answer["statusCode"] == 502, answer["body"]
    (uf,) = core.objects["uploadedfile"].values()
    assert uf["status"] == 41  # ERROR_DEPLOYMENT, not UPLOADED for ever


@pytest.mark.parametrize("refused", [None, r"^abstractslice", r"^imageinstance"])
def test_a_redelivered_import_registers_each_record_once(
    cloud: Cloud,
    core: Core,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    refused: str | None,
) -> None:
    """S3 fails the manifest's last save (after the core's registration, the core failing at a
    step too): the message fails, SQS delivers it again, and the retry completes what is
    missing in the core; a third delivery, of a finished import, sends nothing."""
    from cytotile.manifest import Manifest, Status

    down, save = [True], Manifest.save

    def failing_save(manifest: Manifest, storage: Any) -> None:
        if down[0] and manifest.status is Status.DEPLOYED:
            raise OSError("S3 unavailable (test)")
        save(manifest, storage)

    monkeypatch.setattr(Manifest, "save", failing_save)
    (item,) = json.loads(upload(upload_event(), lambda_context)["body"])
    uf_id, key = item["uploadedFile"]["id"], f"incoming/{item['id']}/small.png"
    if refused:
        core.refuse[refused] = 503
    assert import_written(cloud.s3, key, lambda_context)["batchItemFailures"]  # retried
    assert cloud.manifest(item["id"])["status"] == "DEPLOYING"
    down[0] = False
    core.refuse.clear()
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    done = [c for c in core.calls if c.get("status") == 200]
    posts = Counter(c["path"] for c in done if c["method"] == "POST")
    assert posts["/api/uploadedfile.json"] == 2  # the upload's (the upload function), its pyramid
    assert posts["/api/abstractimage.json"] == 1 and posts["/api/abstractslice.json"] == 1
    instances = sorted(c["body"]["project"] for c in core.done("POST", r"imageinstance\.json"))
    assert instances == [34, 35]
    props = Counter(p["key"] for c in core.done("POST", r"property\.json") for p in c["body"])
    assert props["k1"] == props["k2"] == 1 and max(props.values()) == 1
    statuses = [c["body"]["status"] for c in core.done("PUT", rf"uploadedfile/{uf_id}\.json")]
    assert [s for s in statuses if s in (10, 20, 30, 40)] == [10, 20, 30, 40]
    assert core.objects["uploadedfile"][uf_id]["status"] == 100
    check_registered(core, cloud, item["id"], uf_id)
    before = len(core.calls)  # redelivered once finished: nothing sent
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    assert len(core.calls) == before


@pytest.mark.parametrize("down", [r"^abstractimage", r"^imageinstance", r"."])
def test_a_core_down_at_the_end_gets_the_image_on_a_later_delivery(
    cloud: Cloud, core: Core, lambda_context: LambdaContext, down: str
) -> None:
    """The core does not answer (503) while the image is registered, or at all: the image is
    DEPLOYED and served, the message fails, and the next delivery, of the finished upload,
    registers what the core misses, once; a delivery after that sends nothing."""
    (item,) = json.loads(upload(upload_event(), lambda_context)["body"])
    uf_id, key = item["uploadedFile"]["id"], f"incoming/{item['id']}/small.png"
    core.refuse[down] = 503
    assert import_written(cloud.s3, key, lambda_context)["batchItemFailures"]  # retried later
    assert cloud.manifest(item["id"])["status"] == "DEPLOYED"  # the image itself is done
    core.refuse.clear()
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    assert core.objects["uploadedfile"][uf_id]["status"] == 100  # DEPLOYED (the steps' codes
    # are history: a core down throughout missed them)
    (ai,) = [c["body"] for c in core.done("POST", r"abstractimage\.json")]
    assert (ai["uploadedFile"], ai["width"], ai["height"]) == (uf_id, 300, 200)
    assert len(core.done("POST", r"abstractslice\.json")) == 1
    instances = sorted(c["body"]["project"] for c in core.done("POST", r"imageinstance\.json"))
    assert instances == [34, 35]
    props = Counter(p["key"] for c in core.done("POST", "property") for p in c["body"])
    assert props["k1"] == props["k2"] == 1
    before = len(core.calls)
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    assert len(core.calls) == before


def test_an_image_the_core_refuses_is_not_retried(
    cloud: Cloud, core: Core, lambda_context: LambdaContext
) -> None:
    """A refusal (4xx) is the core's verdict: ERROR_DEPLOYMENT there, the message done."""
    (item,) = json.loads(upload(upload_event(), lambda_context)["body"])
    uf_id, key = item["uploadedFile"]["id"], f"incoming/{item['id']}/small.png"
    core.refuse[r"^abstractimage"] = 400
    assert import_written(cloud.s3, key, lambda_context) == {"batchItemFailures": []}
    assert cloud.manifest(item["id"])["status"] == "DEPLOYED"
    assert core.objects["uploadedfile"][uf_id]["status"] == 41


def test_on_the_last_delivery_a_core_still_down_leaves_the_image_deployed(
    cloud: Cloud, core: Core, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message is done on its last delivery (nothing left for the dead-letter queue to
    redo): the image stays DEPLOYED and served; the core misses it (logged)."""
    monkeypatch.setenv("CYTOTILE_MAX_RECEIVE_COUNT", "2")
    (item,) = json.loads(upload(upload_event(), lambda_context)["body"])
    key = f"incoming/{item['id']}/small.png"
    core.refuse[r"^abstractimage"] = 503
    head = cloud.s3.head_object(Bucket=UPLOAD_BUCKET, Key=key)
    event = sqs_put_event(key, etag=head["ETag"].strip('"'), size=head["ContentLength"])
    handler = load_handler("import").handler
    assert handler(event, lambda_context)["batchItemFailures"]  # the first: retried
    event["Records"][0].setdefault("attributes", {})["ApproximateReceiveCount"] = "2"
    assert handler(event, lambda_context) == {"batchItemFailures": []}  # the last: done
    assert cloud.manifest(item["id"])["status"] == "DEPLOYED"
    assert not core.done("POST", r"abstractimage\.json")
