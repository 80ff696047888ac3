"""The annotation function answers 501 on every route (until annotation rendering lands)."""

from __future__ import annotations

import json

import pytest

from tests.functions.support import LambdaContext, load_event, load_handler


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/annotation-api/image/upload-1/annotation/mask.png"),
        ("GET", "/annotation-api/"),
        ("DELETE", "/annotation-api/anything/else"),
    ],
)
def test_not_implemented(method: str, path: str, lambda_context: LambdaContext) -> None:
    event = load_event("apigw_rest_normalized_tile.json")
    event.update(httpMethod=method, path=path, resource="/annotation-api/{proxy+}")
    event["pathParameters"] = {"proxy": path.removeprefix("/annotation-api/")}
    response = load_handler("annotation").handler(event, lambda_context)
    assert response["statusCode"] == 501
    assert response["headers"]["content-type"] == "application/json"
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"]) == {
        "title": "Not implemented",
        "details": "annotations are not available yet",
    }
