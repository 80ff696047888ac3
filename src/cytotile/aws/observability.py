"""Logs and metrics of the Lambda functions, with AWS Lambda Powertools (JSON Logger, EMF Metrics).

The core never imports Powertools: it logs with :mod:`logging` (``cytotile.*`` loggers, which
:func:`share_logging` points at the function's JSON logger, with its keys) and counts tiles in
:data:`cytotile.pipeline.outputs.STATS`. This module turns those into:

- log keys: the upload id as ``correlation_id`` (import); the request's ``path`` and ``method``,
  with API Gateway's request id as ``correlation_id`` (tile, annotation);
- metrics in the ``cytotile`` namespace (CloudWatch embedded metric format, printed to stdout):

  ``TilesServed``, ``TilesPassthrough`` (Count, per request; the passthrough share is
  ``SUM(TilesPassthrough) / SUM(TilesServed)``, CloudWatch metric math); ``ImportDuration``
  (Seconds, dimension ``format``) for every import a delivery ran; ``ImportOutcome`` (Count,
  dimension ``status``: the final status, or ``DUPLICATE``, ``SKIPPED``, ``IN_PROGRESS``,
  ``RETRY``); ``ImportMessages`` (Count: objects announced per invocation);
  ``AnnotationRequests``; and Powertools' ``ColdStart``.

Each handler's flush (``@metrics.log_metrics``) always has a metric to publish: an empty flush
would warn on every invocation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cytotile.pipeline.outputs import STATS

if TYPE_CHECKING:  # the tile function imports this module: not the import flow
    from aws_lambda_powertools import Logger, Metrics

    from cytotile.aws.importer import Result

NAMESPACE = "cytotile"


def share_logging(logger: Logger) -> None:
    """Give the core's loggers (``cytotile.*``) the function logger's JSON format and keys."""
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    copy_config_to_registered_loggers(source_logger=logger, include={"cytotile"})


def request_keys(logger: Logger, event: dict[str, Any]) -> None:
    """Put an API Gateway (REST) request's path and method in every log line of this
    invocation (and API Gateway's request id as the correlation id)."""
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

    request = APIGatewayProxyEvent(event)
    with contextlib.suppress(KeyError, TypeError):  # not an API Gateway event: Mangum says so
        logger.append_keys(path=request.path, method=request.http_method)
        logger.set_correlation_id(request.request_context.request_id)


def _service(metrics: Metrics) -> dict[str, str]:
    service = getattr(metrics.provider, "service", None)
    return {"service": str(service)} if service else {}


def _single(metrics: Metrics, name: str, unit: str, value: float, **dimensions: str) -> None:
    """A metric with its own dimensions, printed now (EMF allows one dimension set per blob)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=name,
        unit=MetricUnit(unit),
        value=value,
        namespace=NAMESPACE,
        default_dimensions={**_service(metrics), **dimensions},
    ):
        pass


@contextlib.contextmanager
def tile_metrics(metrics: Metrics) -> Iterator[None]:
    """Count the tiles served (and by passthrough) while the block runs."""
    before = STATS.snapshot()
    try:
        yield
    finally:
        after = STATS.snapshot()
        metrics.add_metric("TilesServed", "Count", after["tiles"] - before["tiles"])
        served = after["passthroughs"] - before["passthroughs"]
        metrics.add_metric("TilesPassthrough", "Count", served)


class ImportObserver:
    """The import function's :class:`cytotile.aws.importer.Observer`: the upload id in the log
    keys while it is imported, and the import metrics."""

    def __init__(self, logger: Logger, metrics: Metrics) -> None:
        self.logger = logger
        self.metrics = metrics
        self.objects = 0

    def started(self, upload_id: str) -> None:
        self.objects += 1
        self.logger.append_keys(upload_id=upload_id)
        self.logger.set_correlation_id(upload_id)

    def finished(self, result: Result) -> None:
        from cytotile.aws.importer import Outcome

        manifest = result.manifest
        if result.imported and manifest is not None:
            fmt = manifest.format_id or "UNKNOWN"
            _single(self.metrics, "ImportDuration", "Seconds", result.seconds, format=fmt)
        if result.outcome is Outcome.DONE and not result.imported:
            status = "DUPLICATE"
        elif manifest is not None and result.outcome in (Outcome.DONE, Outcome.GAVE_UP):
            status = manifest.status.value
        else:
            status = result.outcome.value
        _single(self.metrics, "ImportOutcome", "Count", 1, status=status)

    def flush(self) -> None:
        """Add the per-invocation metric (the handler's ``log_metrics`` publishes it)."""
        self.metrics.add_metric("ImportMessages", "Count", self.objects)
