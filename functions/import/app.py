"""ImportFunction: SQS batches of S3 notifications -> the import flow (cytotile.aws.importer)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from cytotile.aws.importer import handle_import_event
from cytotile.settings import ImportSettings, from_env

logger = Logger(service="cytotile-import")
_settings: list[ImportSettings] = []  # built at the first invocation


def _upload_started(upload_id: str) -> None:
    logger.append_keys(correlation_id=upload_id, upload_id=upload_id)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not _settings:  # the core's log lines (cytotile.*) get the same JSON and keys
        copy_config_to_registered_loggers(source_logger=logger, include={"cytotile"})
        _settings.append(from_env(ImportSettings))
    return handle_import_event(event, _settings[0], on_upload=_upload_started)
