"""The IIIF project's own validator (iiif-validator, offline) against cytotile serving its test
image, imported like any upload: every level 0, 1 and 2 test of versions 3.0 and 2.0 (the
validator's name for 2.x) passes. Skips when the sample is absent."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.samples import sample

NAME = "67352ccc-d1b0-11e1-89ae-279075081939.png"
LEVEL = 2


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(host:port, escaped identifier) of a real server over the imported test image."""
    source = sample(f"iiif/{NAME}")
    pytest.importorskip("magic", reason="python-magic needs libmagic1 (scripts/apt-deps.sh)")
    import uvicorn

    from cytotile.importer.flow import import_file

    root = tmp_path_factory.mktemp("iiif-validator")
    storage = LocalStorage(root)
    manifest = import_file(storage, Path(source), name=NAME)
    assert manifest.status.value == "DEPLOYED", manifest.reason
    app = create_app(ServerSettings(root=str(root), access_log=False), storage)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        host = f"127.0.0.1:{sock.getsockname()[1]}"
        yield host, quote(f"{manifest.id}/{NAME}", safe="")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def level_tests(version: str) -> list[str]:
    validator = pytest.importorskip("iiif_validator.validator")
    suite = validator.TestSuite(validator.ValidationInfo())
    listed = suite.list_tests(version)
    return sorted(name for name, info in listed.items() if info["level"] <= LEVEL)


@pytest.mark.parametrize(("version", "prefix"), [("3.0", "iiif/3"), ("2.0", "iiif/2")])
def test_validator_levels_0_to_2(served: tuple[str, str], version: str, prefix: str) -> None:
    from iiif_validator.validator import ImageAPI, TestSuite, ValidationInfo

    host, identifier = served
    suite = TestSuite(ValidationInfo())
    names = level_tests(version)
    assert len(names) >= 30  # the validator's level 0-2 tests, not an empty selection
    failures = []
    for name in names:
        result = ImageAPI(identifier, host, prefix, "http", "", version, debug=False)
        with contextlib.redirect_stdout(io.StringIO()):  # some tests print
            suite.run_test(name, result)
        error = result.exception
        if error is not None:
            failures.append(f"{name}: {error} ({error.url})")
        else:
            assert result.tests, name  # each passing test checked something
    assert not failures, "\n".join(failures)
