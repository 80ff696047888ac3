"""Powertools in every function: the EMF metrics each handler prints (namespace ``cytotile``) and
the keys of its JSON log lines, fed the recorded events (tests/events)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functions.support import (
    Cloud,
    LambdaContext,
    load_event,
    load_handler,
    synthetic_jpeg,
    tile_event,
)


@pytest.fixture(autouse=True)
def fresh_powertools() -> Iterator[None]:
    """Powertools' test setup: no metric left from another test, a cold start for each test,
    and the API functions' loggers writing to this test's stdout."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics.provider import cold_start

    metrics = Metrics()
    metrics.clear_metrics()
    metrics.clear_default_dimensions()
    cold_start.reset_cold_start_flag()
    manager = logging.root.manager
    saved = {
        name: manager.loggerDict.pop(name, None)
        for name in ("cytotile-tile", "cytotile-annotation")
    }
    yield
    metrics.clear_metrics()
    for name, previous in saved.items():
        manager.loggerDict.pop(name, None)
        if previous is not None:
            manager.loggerDict[name] = previous


def emitted(out: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The EMF blobs and the log lines of a handler's stdout."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [x for x in lines if "_aws" in x], [x for x in lines if "_aws" not in x]


def metric(blobs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The blobs that publish ``name``, checked to be EMF in the cytotile namespace."""
    found = []
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            if name in {m["Name"] for m in directive["Metrics"]}:
                assert directive["Namespace"] == "cytotile"
                for dimensions in directive["Dimensions"]:
                    assert all(d in blob for d in dimensions)
                found.append(blob)
    return found


def value(blob: dict[str, Any], name: str) -> float:
    """A metric's one value in a blob (Powertools writes a list of values)."""
    values = blob[name]
    (one,) = values if isinstance(values, list) else [values]
    return float(one)


@pytest.fixture
def image_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local images root with one deployed JPEG; CYTOTILE_ROOT points at it."""
    from cytotile.importer.flow import import_file
    from cytotile.settings import ImportSettings
    from cytotile.storage import LocalStorage

    source = tmp_path / "tissue.jpg"
    source.write_bytes(synthetic_jpeg())
    root = tmp_path / "images"
    manifest = import_file(LocalStorage(root), source, settings=ImportSettings(timeout_s=120))
    assert manifest.status.value == "DEPLOYED", manifest.reason
    monkeypatch.setenv("CYTOTILE_ROOT", str(root))
    return manifest.id


def test_tile_metrics_and_log_keys(
    image_root: str, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    module = load_handler("tile")
    passthrough = tile_event(image_root, 2, 3)
    assert module.handler(passthrough, lambda_context)["statusCode"] == 200
    blobs, _ = emitted(capsys.readouterr().out)
    (cold,) = metric(blobs, "ColdStart")
    assert cold["service"] == "cytotile-tile"
    (served,) = metric(blobs, "TilesServed")
    assert served["service"] == "cytotile-tile"
    assert (value(served, "TilesServed"), value(served, "TilesPassthrough")) == (1, 1)
    keys = module.logger.get_current_keys()
    assert keys["path"] == passthrough["path"]
    assert keys["method"] == "GET"
    assert keys["correlation_id"] == passthrough["requestContext"]["requestId"]

    decoded = tile_event(image_root, 2, 3)  # gamma: decoded, rendered, encoded again
    decoded["queryStringParameters"] = {"gammas": "0.5"}
    decoded["multiValueQueryStringParameters"] = {"gammas": ["0.5"]}
    assert module.handler(decoded, lambda_context)["statusCode"] == 200
    info = load_event("apigw_rest_normalized_tile.json")
    info.update(path="/info", pathParameters={"proxy": "info"})
    assert module.handler(info, lambda_context)["statusCode"] == 200
    blobs, _ = emitted(capsys.readouterr().out)
    assert metric(blobs, "ColdStart") == []  # warm
    served_then = [
        (value(b, "TilesServed"), value(b, "TilesPassthrough"))
        for b in metric(blobs, "TilesServed")
    ]
    assert served_then == [(1, 0), (0, 0)]
    assert module.logger.get_current_keys()["path"] == "/info"


def test_import_metrics(
    cloud: Cloud, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    event = cloud.put("incoming/tissue.jpg", synthetic_jpeg(300, 200))
    handler = load_handler("import").handler
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    blobs, logs = emitted(capsys.readouterr().out)
    (upload_id,) = cloud.uploads()
    (duration,) = metric(blobs, "ImportDuration")
    assert duration["format"] == "JPEG"
    assert duration["service"] == "cytotile-import"
    assert 0 < value(duration, "ImportDuration") < 120
    (unit,) = {m["Unit"] for d in duration["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert unit == "Seconds"
    (outcome,) = metric(blobs, "ImportOutcome")
    assert (outcome["status"], value(outcome, "ImportOutcome")) == ("DEPLOYED", 1)
    (messages,) = metric(blobs, "ImportMessages")
    assert value(messages, "ImportMessages") == 1
    assert len(metric(blobs, "ColdStart")) == 1
    core = [line for line in logs if str(line.get("name", "")).startswith("cytotile")]
    assert core and all(line["correlation_id"] == upload_id for line in core)

    # the same notification again: a duplicate, not another import
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    blobs, _ = emitted(capsys.readouterr().out)
    assert metric(blobs, "ImportDuration") == []
    (outcome,) = metric(blobs, "ImportOutcome")
    assert outcome["status"] == "DUPLICATE"

    # nothing to import (S3's test event): still a metric, so the flush never warns
    assert handler(load_event("sqs_s3_test_event.json"), lambda_context) == {
        "batchItemFailures": []
    }
    blobs, _ = emitted(capsys.readouterr().out)
    (messages,) = metric(blobs, "ImportMessages")
    assert value(messages, "ImportMessages") == 0


def test_import_failure_metrics(
    cloud: Cloud,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cytotile.aws import importer

    def unreachable(*args: Any) -> None:
        raise ConnectionError("S3 is unreachable")

    monkeypatch.setattr(importer, "download", unreachable)
    event = cloud.put("incoming/tissue.jpg", synthetic_jpeg(64, 64))
    handler = load_handler("import").handler
    assert handler(event, lambda_context)["batchItemFailures"]
    blobs, logs = emitted(capsys.readouterr().out)
    (outcome,) = metric(blobs, "ImportOutcome")
    assert outcome["status"] == "RETRY"
    (error,) = [line for line in logs if line["level"] == "ERROR"]
    assert "will be retried" in error["message"] and "S3 is unreachable" in error["message"]


def test_annotation_metrics_and_log_keys(
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CYTOTILE_ROOT", str(tmp_path))  # an empty root: the image is missing
    event = load_event("apigw_rest_normalized_tile.json")
    path = "/annotation-api/image/upload-1/annotation/mask.png"
    event.update(httpMethod="POST", path=path, resource="/annotation-api/{proxy+}")
    event["pathParameters"] = {"proxy": path.removeprefix("/annotation-api/")}
    assert load_handler("annotation").handler(event, lambda_context)["statusCode"] == 404
    blobs, logs = emitted(capsys.readouterr().out)
    (requests,) = metric(blobs, "AnnotationRequests")
    assert requests["service"] == "cytotile-annotation"
    (line,) = logs
    assert (line["path"], line["method"], line["status"]) == (path, "POST", 404)
    assert line["correlation_id"] == event["requestContext"]["requestId"]
