"""Fixtures of the reliability tests: a root of their own (some tests delete uploads), small
deployed images of each pixel type, and a client factory for chosen settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.deployed import Deployed, deploy, grey_source, rgb_source, u16_source


@dataclass
class Root:
    path: Path
    storage: LocalStorage
    rgb: Deployed
    grey: Deployed
    u16: Deployed

    @property
    def all(self) -> list[Deployed]:
        return [self.rgb, self.grey, self.u16]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Root:
    path = tmp_path_factory.mktemp("reliability")
    storage = LocalStorage(path)
    return Root(
        path,
        storage,
        deploy(storage, rgb_source(300, 200), "slide one.svs"),
        deploy(storage, grey_source(200, 100), "grey.png"),
        deploy(storage, u16_source(160, 120), "u16.tif"),
    )


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(root: Root) -> Iterator[ClientFactory]:
    """``make_client(**settings)``: a client of an app on ``root`` (closed after the test)."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = ServerSettings(root=str(root.path), **overrides)
        client = TestClient(create_app(settings, root.storage), raise_server_exceptions=False)
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A root with the real sample.png imported (290 x 442, 16-bit RGB), and its image path."""
    from tests.reliability.serving import import_sample

    root = tmp_path_factory.mktemp("served")
    return root, import_sample(root, "sample.png")
