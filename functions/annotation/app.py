"""AnnotationFunction: answers 501 on every route until annotation rendering lands.

API Gateway routes /annotation-api/{proxy+} here (see template.yaml): Mangum strips the prefix.
"""

from mangum import Mangum
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def not_implemented(request: Request) -> JSONResponse:
    details = "annotations are not available yet"
    return JSONResponse({"title": "Not implemented", "details": details}, status_code=501)


app = Starlette(routes=[Route("/{path:path}", not_implemented, methods=METHODS)])
handler = Mangum(app, lifespan="off", api_gateway_base_path="/annotation-api")
