"""schemathesis against cytotile's own OpenAPI description, on real deployed images: whatever
the generated parameters and bodies, never a 5xx, and errors are JSON {title, details}.

Bounded here (``CYTOTILE_SCHEMATHESIS_EXAMPLES`` per operation, 3 by default); ``make fuzz``
runs it long. Writes run against a server with an admin token, unauthenticated: they must be
refused (401) and change nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from tests.api.conftest import Images

EXAMPLES = int(os.environ.get("CYTOTILE_SCHEMATHESIS_EXAMPLES", "3"))
TOKEN = "fuzz-admin-token"


@pytest.fixture(scope="module")
def app(images: Images) -> Any:
    settings_ = ServerSettings(
        root=str(images.root), max_output_pixels=4_000_000, request_memory_mb=256,
        admin_token=TOKEN,
    )  # fmt: skip
    return create_app(settings_, images.storage)


@pytest.fixture(scope="module")
def api_schema(app: Any) -> Iterator[Any]:
    with TestClient(app):  # the app started once (lifespan)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def _check(case: Any, images: Images) -> None:
    if "path" in (case.path_parameters or {}):
        image = [images.rgb, images.grey, images.u16, images.multi][len(str(case.query)) % 4]
        case.path_parameters["path"] = image.path
    response = case.call()
    assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
    kind = response.headers.get("content-type") or ""
    kind = kind[0] if isinstance(kind, list) else kind
    if response.status_code >= 400 and "json" in kind:
        assert {"title", "details"} <= set(response.json()), response.text[:300]
    if case.method == "DELETE" or case.path == "/upload":
        assert response.status_code in (401, 404, 405), case.as_curl_command()


def test_never_a_server_error(api_schema: Any, images: Images) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            _check(case, images)

        run()
