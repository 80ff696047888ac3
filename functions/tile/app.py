"""TileFunction: the PIMS-compatible HTTP API (cytotile.api) behind API Gateway, via Mangum.

The app (settings from CYTOTILE_*, its S3 client) is created at the first request: importing
this module reads no CYTOTILE_* setting and opens nothing.
"""

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from mangum import Mangum

from cytotile.api.app import create_app
from cytotile.aws.observability import NAMESPACE, request_keys, share_logging, tile_metrics
from cytotile.settings import ServerSettings, from_env

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "cytotile-tile"  # or cytotile-upload
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_handler: list[Mangum] = []  # the app, once created


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not _handler:
        share_logging(logger)
        _handler.append(Mangum(create_app(from_env(ServerSettings)), lifespan="off"))
    request_keys(logger, event)
    with tile_metrics(metrics):
        return _handler[0](event, context)
