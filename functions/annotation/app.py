"""AnnotationFunction: answers 501 on every route until annotation rendering lands.

API Gateway routes /annotation-api/{proxy+} here (see template.yaml): Mangum strips the prefix.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from mangum import Mangum
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cytotile.aws.observability import NAMESPACE, request_keys

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
logger = Logger(service="cytotile-annotation")
metrics = Metrics(namespace=NAMESPACE, service="cytotile-annotation")


async def not_implemented(request: Request) -> JSONResponse:
    details = "annotations are not available yet"
    return JSONResponse({"title": "Not implemented", "details": details}, status_code=501)


app = Starlette(routes=[Route("/{path:path}", not_implemented, methods=METHODS)])
_mangum = Mangum(app, lifespan="off", api_gateway_base_path="/annotation-api")


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_keys(logger, event)
    metrics.add_metric("AnnotationRequests", "Count", 1)
    response: dict[str, Any] = _mangum(event, context)
    logger.info("answered", extra={"status": response.get("statusCode")})
    return response
