"""Lambda's envelope, checked rather than discovered: an upload that cannot fit in the ephemeral
disk, or a conversion that cannot end within the invocation, ends ERROR_CONVERSION with the
reason, recorded, and is not retried."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cytotile.settings import ImportSettings
from tests.functions.support import (
    ROOT,
    UPLOAD_BUCKET,
    Cloud,
    LambdaContext,
    load_handler,
    synthetic_jpeg,
)

KEY = "incoming/big slide.jpg"
GiB = 1024**3
OK = {"batchItemFailures": []}


@dataclass
class ShortContext(LambdaContext):
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_an_upload_too_large_for_the_ephemeral_disk(
    cloud: Cloud, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = cloud.put(KEY, synthetic_jpeg(300, 200))
    body = event["Records"][0]["body"]
    event["Records"][0]["body"] = body.replace('"size":', '"size":6000000000,"_was":', 1)
    free = int(9.5 * 1e9)
    usage = shutil.disk_usage("/")._replace(total=10 * GiB, used=10 * GiB - free, free=free)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)

    assert load_handler("import").handler(event, lambda_context) == OK  # recorded: no retry
    (upload_id,) = cloud.uploads()
    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "ERROR_CONVERSION"
    assert manifest["reason"] == (
        "the upload (6.0 GB) and its pyramid need about 18.0 GB of ephemeral storage, "
        "the function has 9.5 GB (Lambda's largest is 10 GB)"
    )
    assert cloud.gets.count(UPLOAD_BUCKET) == 0  # nothing was downloaded
    assert cloud.list_keys() == [f"{upload_id}/manifest.json"]


def test_a_conversion_longer_than_the_invocation(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversion is cut at the invocation's deadline (minus what recording the outcome
    needs) and the upload ends ERROR_CONVERSION, instead of Lambda killing the import and SQS
    delivering it again and again."""
    from cytotile.aws import importer
    from cytotile.importer import flow

    real = flow.run_isolated

    def endless_conversion(target: str, payload: dict, **kwargs: Any) -> Any:
        if target.endswith(":convert"):
            target = "tests.functions.steps:sleepy"  # a child that sleeps for 2 minutes
        return real(target, payload, **kwargs)

    monkeypatch.setattr(flow, "run_isolated", endless_conversion)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # where the child finds tests.functions.steps
    monkeypatch.setattr(importer, "MARGIN_S", 1.0)
    event = cloud.put(KEY, synthetic_jpeg(300, 200))

    started = time.monotonic()
    assert load_handler("import").handler(event, ShortContext(remaining_ms=8000)) == OK
    assert time.monotonic() - started < 8
    (upload_id,) = cloud.uploads()
    manifest = cloud.manifest(upload_id)
    assert manifest["status"] == "ERROR_CONVERSION"
    assert manifest["reason"] == "did not finish within Lambda's 8 seconds"
    assert cloud.list_keys() == [f"{upload_id}/manifest.json"]  # no lease, nothing processed


def test_the_steps_deadline_and_memory_of_an_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    from cytotile.aws.importer import Delivery, delivery_settings

    monkeypatch.delenv("CYTOTILE_MEMORY_MB", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)
    settings = ImportSettings(memory_mb=6144)
    assert delivery_settings(settings, Delivery(), 10**9) == settings  # no Lambda: no bounds

    ends_at = time.time() + 899.9
    lambda_settings = delivery_settings(settings, Delivery(1, 3, ends_at, 899.9), 2 * 10**9)
    assert lambda_settings.deadline_name == "Lambda's 15 minutes"
    # kept: 30 s to record the outcome, and the time to upload a pyramid of about 4 GB
    assert lambda_settings.deadline == pytest.approx(ends_at - 30 - 40)

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    assert delivery_settings(settings, Delivery(), 1).memory_mb == 3008 - 512
    monkeypatch.setenv("CYTOTILE_MEMORY_MB", "6144")  # said explicitly: as said
    assert delivery_settings(settings, Delivery(), 1).memory_mb == 6144


def test_a_deadline_already_passed_fails_the_first_step(tmp_path: Path) -> None:
    """The flow's deadline, outside Lambda too (``ImportSettings.deadline``)."""
    from cytotile.importer.flow import import_file
    from cytotile.storage import LocalStorage

    source = tmp_path / "slide.jpg"
    source.write_bytes(synthetic_jpeg(64, 64))
    settings = ImportSettings(deadline=time.time() - 1, deadline_name="the 2 hours allowed")
    manifest = import_file(LocalStorage(tmp_path / "images"), source, settings=settings)
    assert manifest.status.value == "ERROR_CONVERSION"
    assert manifest.reason == "did not finish within the 2 hours allowed"
