"""AnnotationFunction: annotation masks, crops and drawings (and windows with annotations) with
the same app as TileFunction (cytotile.api, behind Mangum), its own memory and concurrency.

API Gateway sends it the PIMS annotation routes (/image/{path}/annotation/{kind}, see
template.yaml) and /annotation-api/{proxy+}, whose prefix Mangum strips. The app is created at
the first request: importing this module reads no CYTOTILE_* setting and opens nothing.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from mangum import Mangum

from cytotile.api.app import create_app
from cytotile.aws.observability import NAMESPACE, request_keys, share_logging
from cytotile.settings import ServerSettings, from_env

PREFIX = "/annotation-api"
logger = Logger(service="cytotile-annotation")
metrics = Metrics(namespace=NAMESPACE, service="cytotile-annotation")
_handler: list[Mangum] = []  # the app, once created


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not _handler:
        share_logging(logger)
        app = create_app(from_env(ServerSettings))
        _handler.append(Mangum(app, lifespan="off", api_gateway_base_path=PREFIX))
    request_keys(logger, event)
    metrics.add_metric("AnnotationRequests", "Count", 1)
    response: dict[str, Any] = _handler[0](event, context)
    logger.info("answered", extra={"status": response.get("statusCode")})
    return response
