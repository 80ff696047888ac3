"""ImportFunction: SQS batches of S3 notifications -> the import flow (cytotile.aws.importer)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from cytotile.aws.importer import handle_import_event
from cytotile.aws.observability import NAMESPACE, ImportObserver, share_logging
from cytotile.settings import ImportSettings, from_env

logger = Logger(service="cytotile-import")
metrics = Metrics(namespace=NAMESPACE, service="cytotile-import")
_settings: list[ImportSettings] = []  # built at the first invocation


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not _settings:  # the core's log lines (cytotile.*) get the same JSON and keys
        share_logging(logger)
        _settings.append(from_env(ImportSettings))
    observer = ImportObserver(logger, metrics)
    try:
        return handle_import_event(event, _settings[0], context=context, observer=observer)
    finally:
        observer.flush()
