"""Fixtures of the Lambda handler tests: moto S3 whose client counts GetObjects."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functions.support import IMAGES_BUCKET, UPLOAD_BUCKET, Cloud, Counter, LambdaContext


@pytest.fixture
def cloud(aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Cloud]:
    """moto S3 with the upload and images buckets; the handlers' S3 client counts GetObjects."""
    import boto3
    from moto import mock_aws

    from cytotile.storage import s3 as s3_module

    with mock_aws():
        client = boto3.client("s3")
        counter = Counter()
        client.meta.events.register("before-call.s3.GetObject", counter)
        for bucket in (UPLOAD_BUCKET, IMAGES_BUCKET):
            client.create_bucket(Bucket=bucket)
        monkeypatch.setattr(s3_module, "_client", lambda: client)
        monkeypatch.setenv("CYTOTILE_ROOT", f"s3://{IMAGES_BUCKET}")
        monkeypatch.setenv("CYTOTILE_WORKDIR", str(tmp_path))
        monkeypatch.setenv("CYTOTILE_TIMEOUT_S", "120")
        yield Cloud(client, counter)


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture(autouse=True)
def _isolate_logging() -> Iterator[None]:
    """The import handler sets up process-wide logging, as on Lambda: its Powertools logger
    ("cytotile-import") gets a stdout handler once, and the ``cytotile`` loggers are pointed at
    it. Give each test a new "cytotile-import" logger (whose handler writes to this test's
    stdout) and restore both afterwards, so other tests' log capture is not affected."""
    manager = logging.root.manager
    core = logging.getLogger("cytotile")
    saved = (list(core.handlers), core.propagate, core.level)
    previous = manager.loggerDict.pop("cytotile-import", None)
    yield
    core.handlers, core.propagate = saved[0], saved[1]
    core.setLevel(saved[2])
    manager.loggerDict.pop("cytotile-import", None)
    if previous is not None:
        manager.loggerDict["cytotile-import"] = previous
