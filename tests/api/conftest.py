"""Fixtures of the API tests: one root with deployed synthetic images, and a client on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import pyvips
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.deployed import (
    Deployed,
    deploy,
    grey_source,
    multi_source,
    rgb_source,
    u16_source,
)


@dataclass
class Images:
    root: Path
    storage: LocalStorage
    rgb: Deployed
    grey: Deployed
    u16: Deployed
    multi: Deployed


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    root = tmp_path_factory.mktemp("root")
    storage = LocalStorage(root)
    return Images(
        root,
        storage,
        deploy(storage, rgb_source(), "CMU-1.svs"),
        deploy(storage, grey_source(), "grey.png"),
        deploy(storage, u16_source(), "u16.tif"),
        deploy(storage, multi_source(), "multi.ome.tif"),
    )


@pytest.fixture(scope="session")
def client(images: Images) -> Iterator[TestClient]:
    settings = ServerSettings(root=str(images.root), max_output_pixels=4_000_000)
    with TestClient(create_app(settings, images.storage)) as test_client:
        yield test_client


def decode(data: bytes) -> np.ndarray:
    """(h, w, bands) pixels of an encoded image."""
    array = pyvips.Image.new_from_buffer(data, "").numpy()
    return array[..., None] if array.ndim == 2 else array
