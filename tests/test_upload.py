"""``cytotile.upload`` and ``cytotile upload`` against moto S3: multipart, resume, restart."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from cytotile import upload as up
from cytotile.cli import main

PART = 5 * up.MiB


class Stop(Exception):
    """An interruption injected by a test."""


class S3:
    """A moto S3 client that counts the operations it sends, and can fail one of them."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        self.dest = f"s3://{bucket}/incoming"
        self.calls: Counter[str] = Counter()
        self.fail_on: tuple[str, int] | None = None
        client.meta.events.register("before-call.s3.*", self._before)

    def _before(self, model: Any, **kwargs: Any) -> None:
        self.calls[model.name] += 1
        if self.fail_on and self.fail_on == (model.name, self.calls[model.name]):
            raise Stop(f"{model.name} #{self.calls[model.name]} fails")

    def reset(self) -> None:
        self.calls.clear()
        self.fail_on = None

    def body(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[Any]:
    """One moto for the module (starting one costs more than these tests); a bucket a test."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            yield up.default_client()


@pytest.fixture
def s3(moto_s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3]:
    monkeypatch.setenv(up.STATE_ENV, str(tmp_path / "state"))
    s3 = S3(moto_s3, f"uploads-{uuid.uuid4().hex[:12]}")
    s3.client.create_bucket(Bucket=s3.bucket)
    monkeypatch.setattr(up, "default_client", lambda *args: s3.client)  # the CLI's, counted
    s3.reset()
    yield s3
    s3.client.meta.events.unregister("before-call.s3.*", s3._before)


@pytest.fixture(scope="module")
def content() -> bytes:
    return os.urandom(12_000_000)  # three 5 MiB parts, the last one short


@pytest.fixture
def slide(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "slide one.svs"
    path.write_bytes(content)
    return path


def state_files(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "state").glob("*.json"))]


def interrupt_after_first_part(p: up.Progress) -> None:
    if p.sent >= PART and not p.done:
        raise Stop("interrupted")


def test_multipart_upload(s3: S3, slide: Path, content: bytes, tmp_path: Path) -> None:
    events: list[up.Progress] = []
    done = up.upload_file(slide, s3.dest, client=s3.client, part_size=PART, progress=events.append)
    assert done.key == "incoming/slide one.svs"
    assert (done.parts, done.sent_parts, done.size, done.skipped) == (3, 3, len(content), False)
    assert done.etag.endswith('-3"')
    assert s3.body(done.key) == content
    assert s3.calls["UploadPart"] == 3 and s3.calls["CompleteMultipartUpload"] == 1
    sent = [e.sent for e in events]
    assert sent == sorted(sent) and sent[0] == 0 and events[-1].done
    assert events[-1].sent == events[-1].total == len(content)
    [state] = state_files(tmp_path)
    assert state["completed"] and state["etag"] == done.etag and len(state["parts"]) == 3


def test_small_file_is_one_put(s3: S3, tmp_path: Path) -> None:
    small = tmp_path / "label.png"
    small.write_bytes(b"\x89PNG" + os.urandom(1000))
    events: list[up.Progress] = []
    keys = up.upload_files([small], f"s3://{s3.bucket}/", client=s3.client, progress=events.append)
    assert keys == ["label.png"]
    assert s3.body("label.png") == small.read_bytes()
    assert s3.calls["PutObject"] == 1 and s3.calls["CreateMultipartUpload"] == 0
    assert events[-1].done and events[-1].sent == small.stat().st_size


def test_interrupted_upload_resumes_with_the_missing_parts(
    s3: S3, slide: Path, content: bytes, tmp_path: Path
) -> None:
    with pytest.raises(Stop):
        up.upload_file(
            slide,
            s3.dest,
            client=s3.client,
            part_size=PART,
            concurrency=1,
            progress=interrupt_after_first_part,
        )
    assert s3.calls["UploadPart"] == 1 and s3.calls["CompleteMultipartUpload"] == 0
    [state] = state_files(tmp_path)
    assert list(state["parts"]) == ["1"] and not state["completed"]

    s3.reset()
    events: list[up.Progress] = []
    done = up.upload_file(slide, s3.dest, client=s3.client, part_size=PART, progress=events.append)
    assert s3.calls["ListParts"] == 1 and s3.calls["CreateMultipartUpload"] == 0
    assert s3.calls["UploadPart"] == 2 and done.sent_parts == 2 and done.parts == 3
    assert events[0].resumed == PART and events[0].sent == PART
    assert s3.body(done.key) == content


def test_failed_part_resumes(s3: S3, slide: Path, content: bytes) -> None:
    s3.fail_on = ("UploadPart", 2)
    with pytest.raises(Stop):
        up.upload_file(slide, s3.dest, client=s3.client, part_size=PART, concurrency=3)
    s3.reset()
    done = up.upload_file(slide, s3.dest, client=s3.client, part_size=PART, concurrency=3)
    # parts 1 and 3 went out beside the failing part 2: only part 2 is sent again
    assert s3.calls["UploadPart"] == 1 and done.sent_parts == 1
    assert s3.body(done.key) == content


def test_vanished_upload_restarts(s3: S3, slide: Path, content: bytes, tmp_path: Path) -> None:
    progress = interrupt_after_first_part
    with pytest.raises(Stop):
        up.upload_file(
            slide, s3.dest, client=s3.client, part_size=PART, concurrency=1, progress=progress
        )
    [state] = state_files(tmp_path)
    s3.client.abort_multipart_upload(
        Bucket=s3.bucket, Key=state["key"], UploadId=state["upload_id"]
    )

    s3.reset()
    done = up.upload_file(slide, s3.dest, client=s3.client, part_size=PART)
    assert s3.calls["CreateMultipartUpload"] == 1 and s3.calls["UploadPart"] == 3
    assert s3.body(done.key) == content
    [after] = state_files(tmp_path)
    assert after["upload_id"] != state["upload_id"] and after["completed"]
    assert not s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads")


def test_changed_file_starts_over(s3: S3, slide: Path, content: bytes) -> None:
    with pytest.raises(Stop):
        up.upload_file(
            slide,
            s3.dest,
            client=s3.client,
            part_size=PART,
            concurrency=1,
            progress=interrupt_after_first_part,
        )
    changed = content[::-1]
    slide.write_bytes(changed)
    os.utime(slide, ns=(1_000_000_000, 1_000_000_000))
    s3.reset()
    done = up.upload_file(slide, s3.dest, client=s3.client, part_size=PART)
    assert s3.calls["UploadPart"] == 3 and s3.body(done.key) == changed


def test_second_run_skips_what_is_uploaded(s3: S3, tmp_path: Path) -> None:
    small = tmp_path / "small.tif"
    small.write_bytes(os.urandom(2000))
    first = up.upload_file(small, s3.dest, client=s3.client)
    s3.reset()
    again = up.upload_file(small, s3.dest, client=s3.client)
    assert again.skipped and again.etag == first.etag and s3.calls["PutObject"] == 0
    s3.client.delete_object(Bucket=s3.bucket, Key=first.key)  # gone since: send it again
    s3.reset()
    third = up.upload_file(small, s3.dest, client=s3.client)
    assert not third.skipped and s3.calls["PutObject"] == 1
    assert s3.body(first.key) == small.read_bytes()
    s3.reset()
    forced = up.upload_file(small, s3.dest, client=s3.client, force=True)
    assert not forced.skipped and s3.calls["PutObject"] == 1


def test_part_size_and_names() -> None:
    assert up.effective_part_size(100, PART) == PART
    grown = up.effective_part_size(10_000 * PART + 1, PART)
    assert grown % up.MiB == 0 and grown * up.MAX_PARTS >= 10_000 * PART + 1
    with pytest.raises(up.UploadError):
        up.effective_part_size(100, up.MiB)
    assert up.parse_destination("s3://b/a/b/") == ("b", "a/b")
    for bad in ("/tmp/x", "s3://", "http://b/x"):
        with pytest.raises(up.UploadError):
            up.parse_destination(bad)
    with pytest.raises(up.UploadError, match="both become"):
        up.check_names([Path("a/x.svs"), Path("b/x.svs")], "s3://b/p")


def test_progress_bar_on_a_terminal() -> None:
    out = io.StringIO()
    ticks = iter([0.0, 1.0, 2.0])
    bar = up.ProgressBar(out, tty=True, clock=lambda: next(ticks))
    path = Path("/data/big.svs")
    bar(up.Progress(path, "b", "k", 0, 4 * up.MiB))
    bar(up.Progress(path, "b", "k", 2 * up.MiB, 4 * up.MiB))
    bar(up.Progress(path, "b", "k", 4 * up.MiB, 4 * up.MiB, done=True))
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert " 50.0% 2.0 MiB/4.0 MiB 2.0 MiB/s" in text and "100.0%" in text


# -- the command ------------------------------------------------------------------------------
def test_cli_uploads(
    s3: S3, slide: Path, content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small.tif"
    small.write_bytes(b"II*\x00" + bytes(100))
    assert main(["upload", str(slide), str(small), "--to", s3.dest, "--part-size", "5"]) == 0
    assert s3.body("incoming/slide one.svs") == content
    assert s3.body("incoming/small.tif") == small.read_bytes()
    lines = capsys.readouterr().err.splitlines()  # not a terminal: one line per file
    assert len(lines) == 2 and lines[0].startswith(f"slide one.svs -> {s3.dest}/")
    assert main(["upload", str(slide), "--to", s3.dest, "--part-size", "5"]) == 0
    assert "already uploaded" in capsys.readouterr().err


def test_cli_failures(
    s3: S3, slide: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.svs"
    small = tmp_path / "small.tif"
    small.write_bytes(b"II*\x00" + bytes(100))
    assert main(["upload", str(missing), str(small), "--to", s3.dest]) == 1
    err = capsys.readouterr().err
    assert "missing.svs: no such file" in err
    assert "1 of 2 failed; run the same command again to resume" in err
    assert s3.calls["PutObject"] == 1  # the other file still went
    assert main(["upload", str(slide), "--to", "/not/s3"]) == 1
    assert "s3://bucket" in capsys.readouterr().err
    assert main(["upload", str(slide), "--to", "s3://no-such-bucket/x", "--force"]) == 1
    assert "NoSuchBucket" in capsys.readouterr().err


def test_cli_interrupted(
    s3: S3,
    slide: Path,
    content: bytes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bar = up.ProgressBar.__call__

    def ctrl_c(self: up.ProgressBar, p: up.Progress) -> None:
        if p.sent >= PART:
            raise KeyboardInterrupt
        bar(self, p)

    monkeypatch.setattr(up.ProgressBar, "__call__", ctrl_c)
    argv = ["upload", str(slide), "--to", s3.dest, "--part-size", "5", "--concurrency", "1"]
    assert main(argv) == 130
    assert "interrupted; run the same command again to resume" in capsys.readouterr().err
    monkeypatch.setattr(up.ProgressBar, "__call__", bar)
    s3.reset()
    assert main(argv) == 0
    assert s3.calls["UploadPart"] == 2 and s3.body("incoming/slide one.svs") == content
