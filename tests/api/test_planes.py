"""Plane parameters on image routes: channel / focal plane / timepoint selection, Z and T
projections, 16-bit PNG, and tiles of real microscopy samples equal to their planes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.formats import detect
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.api.conftest import Images, decode
from tests.formats.test_microscopy import INT8_SAMPLES, SAMPLES, reference_plane
from tests.helpers.deployed import deploy
from tests.helpers.samples import sample

#: the plane's own samples: no colormap (DEFAULT tints one channel of several, as PIMS)
RAW16 = {"min_intensities": 0, "max_intensities": 65535, "bits": 16, "colormaps": "NONE"}


def tile(client: TestClient, path: str, **params: object) -> np.ndarray:
    response = client.get(f"/image/{path}/normalized-tile/level/0/ti/0.png", params=params)
    assert response.status_code == 200, response.text
    return decode(response.content)


def test_plane_selection_16_bit(client: TestClient, images: Images) -> None:
    planes = images.multi.source.planes
    got = tile(client, images.multi.path, channels=1, z_slices=2, **RAW16)
    assert got.dtype == np.uint16
    assert np.array_equal(got[..., 0], planes[(1, 2, 0)][:256, :256, 0])


@pytest.mark.parametrize(("how", "reduce"), [("MAX", np.max), ("MIN", np.min)])
def test_z_projection(client: TestClient, images: Images, how: str, reduce: object) -> None:
    planes = images.multi.source.planes
    got = tile(client, images.multi.path, channels=0, z_slices="0,1,2", z_reduction=how, **RAW16)
    stack = np.stack([planes[(0, z, 0)][:256, :256, 0] for z in range(3)])
    assert np.array_equal(got[..., 0], reduce(stack, axis=0))  # type: ignore[operator]


def test_projection_median_and_refusals(client: TestClient, images: Images) -> None:
    planes = images.multi.source.planes
    got = tile(client, images.multi.path, channels=0, z_slices="0,1,2", z_reduction="MED", **RAW16)
    stack = np.stack([planes[(0, z, 0)][:256, :256, 0] for z in range(3)])
    assert np.array_equal(got[..., 0], np.median(stack, axis=0).astype(np.uint16))
    url = f"/image/{images.multi.path}/normalized-tile/level/0/ti/0.png"
    for params in ({"z_slices": "0,3"}, {"z_reduction": "SUM"}, {"c_reduction": "MED"}):
        response = client.get(url, params=params)
        assert response.status_code == 422, params
        assert response.json()["details"]


def test_composite_of_two_channels(client: TestClient, images: Images) -> None:
    """Red and green from the metadata, additively, each stretched on its own bounds."""
    planes = images.multi.source.planes
    got = tile(
        client,
        images.multi.path,
        z_slices=0,
        min_intensities="0,1000",
        max_intensities="60000,50000",
    )
    red = np.clip(planes[(0, 0, 0)][:256, :256, 0] / 60000, 0, 1)
    green = np.clip((planes[(1, 0, 0)][:256, :256, 0].astype(float) - 1000) / 49000, 0, 1)
    assert np.abs(got[..., 0].astype(int) - np.rint(red * 255)).max() <= 1
    assert np.abs(got[..., 1].astype(int) - np.rint(green * 255)).max() <= 1
    assert got[..., 2].max() == 0


def test_passthrough_unchanged(client: TestClient, images: Images) -> None:
    response = client.get(f"/image/{images.rgb.path}/normalized-tile/level/0/ti/0.jpg")
    assert response.headers["x-cytotile-passthrough"] == "1"


@pytest.fixture(scope="module")
def samples_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStorage, dict[str, str]]:
    storage = LocalStorage(tmp_path_factory.mktemp("samples"))
    paths = {}
    for name in SAMPLES:
        path = sample(name)
        with detect(path).open(path) as source:
            paths[name] = deploy(storage, source, name).path  # type: ignore[arg-type]
    return storage, paths


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_sample_tiles(samples_root: tuple[LocalStorage, dict[str, str]], name: str) -> None:
    storage, paths = samples_root
    fmt_id, n_c, depth, duration, n_samples, pixel_type, _ = SAMPLES[name]
    settings = ServerSettings(root=str(storage.root))
    full = 65535 if pixel_type == "uint16" else 255
    # intensities are in the file's values: int8 samples (stored +128) span -128..127
    low = -128 if name in INT8_SAMPLES else 0
    with TestClient(create_app(settings, storage)) as client:
        for c, z, t in {(0, 0, 0), (n_c - 1, depth - 1, duration - 1), (n_c // 2, depth // 2, 0)}:
            channels = ",".join(str(c * n_samples + s) for s in range(n_samples))
            got = tile(
                client,
                paths[name],
                channels=channels,
                z_slices=z,
                timepoints=t,
                min_intensities=low,
                max_intensities=low + full,
                bits=16 if full > 255 else 8,
                colormaps="NONE",
            )
            ref = reference_plane(Path(sample(name)), fmt_id, c, z, t)
            ref = ref.reshape(ref.shape[0], ref.shape[1], -1)[:256, :256]
            diff = np.abs(got.astype(int) - ref.astype(int))
            assert diff.max() == 0, (c, z, t)  # stacks and multi-channel: lossless planes
