"""schemathesis against cytotile's own OpenAPI description, on real uploads: whatever
the generated parameters and bodies, never a 5xx, and errors are JSON {title, details}.

Bounded here (``CYTOTILE_SCHEMATHESIS_EXAMPLES`` per operation, 3 by default); ``make fuzz``
runs it long. Writes run against a server with an admin token, unauthenticated: they must be
refused (401) and change nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.deployed import deploy, grey_source, multi_source, rgb_source, u16_source
from tests.helpers.samples import SAMPLES

EXAMPLES = int(os.environ.get("CYTOTILE_SCHEMATHESIS_EXAMPLES", "3"))
TOKEN = "fuzz-admin-token"


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A root of its own: the suite's synthetic images, and real files through the real import
    (when the samples are there): a JPEG-tiled slide and a 16-bit RGB PNG."""
    from cytotile.importer.flow import import_file

    root = tmp_path_factory.mktemp("schemathesis")
    storage = LocalStorage(root)
    found = [
        deploy(storage, rgb_source(600, 400), "rgb.svs").path,
        deploy(storage, grey_source(300, 200), "grey.png").path,
        deploy(storage, u16_source(260, 150), "u16.tif").path,
        deploy(storage, multi_source(150, 100, 2), "multi.ome.tif").path,
    ]
    for name in ("CMU-1-Small-Region.svs", "sample.png"):
        if (SAMPLES / name).is_file():
            manifest = import_file(storage, SAMPLES / name, name=name)
            assert manifest.status.value == "DEPLOYED", manifest.reason
            found.append(f"{manifest.id}/{name}")
    return root, found


@pytest.fixture(scope="module")
def app(paths: tuple[Path, list[str]]) -> Any:
    settings_ = ServerSettings(
        root=str(paths[0]), max_output_pixels=4_000_000, request_memory_mb=256,
        admin_token=TOKEN,
    )  # fmt: skip
    return create_app(settings_, LocalStorage(paths[0]))


@pytest.fixture(scope="module")
def api_schema(app: Any) -> Iterator[Any]:
    with TestClient(app):  # the app started once (lifespan)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def _check(case: Any, paths: list[str]) -> None:
    if "path" in (case.path_parameters or {}):
        case.path_parameters["path"] = paths[len(str(case.query)) % len(paths)]
    response = case.call()
    assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
    kind = response.headers.get("content-type") or ""
    kind = kind[0] if isinstance(kind, list) else kind
    if response.status_code >= 400 and "json" in kind:
        assert {"title", "details"} <= set(response.json()), response.text[:300]
    if case.method == "DELETE" or case.path == "/upload":
        assert response.status_code in (401, 404, 405), case.as_curl_command()


def test_never_a_server_error(api_schema: Any, paths: tuple[Path, list[str]], app: Any) -> None:
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
            _check(case, paths[1])

        run()
    client = TestClient(app)  # still up: it answers a listing and an image of each upload
    assert client.get("/uploads").status_code == 200
    for path in paths[1]:
        assert client.get(f"/image/{path}/thumb.jpg?length=64").status_code == 200, path
