"""Signed samples (int8, int16) as PIMS shows them: the file's pixel type, histograms and
bounds in the file's values, intensities given in the file's values. cytotile stores them
shifted to unsigned (lossless); the shift must not show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from starlette.testclient import TestClient

from cytotile.formats import detect
from tests.api.conftest import Images, decode
from tests.helpers.deployed import Deployed, deploy
from tests.helpers.samples import sample

W, H = 64, 48
OFFSET = {"int8": 128, "int16": 32768}


def signed_planes(dtype: str) -> np.ndarray:
    """(C=2, H, W): channel 0 a ramp over the type's whole range, channel 1 a narrower one."""
    info = np.iinfo(dtype)
    ramp = np.linspace(info.min, info.max, W * H).reshape(H, W)
    narrow = np.linspace(-50, 70, W * H).reshape(H, W)
    return np.rint(np.stack([ramp, narrow])).astype(dtype)


def deploy_file(images: Images, path: Path) -> Deployed:
    source = detect(path).open(path)
    try:
        return deploy(images.storage, source, path.name)  # type: ignore[arg-type]
    finally:
        source.close()


@pytest.fixture(scope="module", params=["int8", "int16"])
def signed(
    request: pytest.FixtureRequest, images: Images, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, np.ndarray, Deployed]:
    dtype = request.param
    data = signed_planes(dtype)
    path = tmp_path_factory.mktemp(dtype) / f"{dtype}.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CYX"}, photometric="minisblack")
    return dtype, data, deploy_file(images, path)


def test_info_gives_the_file_type(client: TestClient, signed: tuple) -> None:
    dtype, _, image = signed
    info = client.get(f"/image/{image.path}/info/image").json()
    assert info["pixel_type"] == dtype and info["bits"] == np.iinfo(dtype).bits


def test_histogram_bounds_in_file_values(client: TestClient, signed: tuple) -> None:
    _, data, image = signed
    url = f"/image/{image.path}/histogram/per-channels/bounds"
    items = client.get(url).json()["items"]
    assert [(i["minimum"], i["maximum"]) for i in items] == [
        (int(data[c].min()), int(data[c].max())) for c in range(2)
    ]
    per_image = client.get(f"/image/{image.path}/histogram/per-image/bounds").json()
    assert (per_image["minimum"], per_image["maximum"]) == (int(data.min()), int(data.max()))


def test_histogram_bins_match_numpy(client: TestClient, signed: tuple) -> None:
    dtype, data, image = signed
    info = np.iinfo(dtype)
    url = f"/image/{image.path}/histogram/per-channels?channels=1&n_bins=256&full_range=true"
    got = client.get(url).json()["items"][0]["histogram"]
    want = np.histogram(data[1], 256, (info.min, info.max + 1))[0]
    assert got == want.tolist()


def test_intensities_in_file_values(client: TestClient, signed: tuple) -> None:
    _, data, image = signed
    lo, hi = -40, 60
    query = f"channels=1&min_intensities={lo}&max_intensities={hi}&colormaps=NONE"
    url = f"/image/{image.path}/normalized-tile/zoom/0/tx/0/ty/0.png?{query}"
    response = client.get(url)
    assert response.status_code == 200, response.text
    got = decode(response.content)[..., 0].astype(float)
    want = np.clip((data[1].astype(float) - lo) / (hi - lo), 0, 1) * 255
    assert got.shape == want.shape and np.abs(got - want).max() <= 0.5


def test_full_range_is_the_stored_bytes(client: TestClient, signed: tuple) -> None:
    dtype, data, image = signed
    info = np.iinfo(dtype)
    query = f"channels=0&min_intensities={info.min}&max_intensities={info.max}"
    url = f"/image/{image.path}/normalized-tile/zoom/0/tx/0/ty/0.png?{query}&bits=16"
    got = decode(client.get(url).content)[..., 0].astype(np.int64)
    want = (data[0].astype(np.int64) + OFFSET[dtype]) * (65535 // (info.max - info.min))
    assert np.abs(got - want).max() <= 1


@pytest.mark.parametrize("name", ["multi-channel-z-series.ome.tif", "viv-multi-channel.ome.tif"])
def test_int8_samples(client: TestClient, images: Images, name: str) -> None:
    path = sample(name)
    with tifffile.TiffFile(path) as tif:
        data = tif.series[0].asarray()
        axes = tif.series[0].axes
    assert data.dtype == np.int8
    image = deploy_file(images, path)
    assert client.get(f"/image/{image.path}/info/image").json()["pixel_type"] == "int8"
    bounds = client.get(f"/image/{image.path}/histogram/per-image/bounds").json()
    assert (bounds["minimum"], bounds["maximum"]) == (int(data.min()), int(data.max()))
    c0 = data.take(0, axis=axes.index("C"))
    items = client.get(f"/image/{image.path}/histogram/per-channels/bounds?channels=0").json()
    assert (items["items"][0]["minimum"], items["items"][0]["maximum"]) == (
        int(c0.min()),
        int(c0.max()),
    )


def test_one_channel_int8_default_tile_in_file_values(
    client: TestClient, images: Images, tmp_path: Path
) -> None:
    """A one-channel int8 image is stored as JPEG tiles shifted by +128; its default tile is
    rendered in the file's values as PIMS shows them (negatives black), never the stored
    tile passed through."""
    data = np.rint(np.linspace(-128, 127, W * H)).astype(np.int8).reshape(H, W)
    path = tmp_path / "one.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "YX"}, photometric="minisblack")
    image = deploy_file(images, path)
    response = client.get(f"/image/{image.path}/normalized-tile/zoom/0/tx/0/ty/0.jpg")
    assert response.status_code == 200
    assert response.headers["x-cytotile-passthrough"] == "0"
    got = decode(response.content).astype(float)
    got = got[..., 0] if got.ndim == 3 else got
    want = np.clip(data.astype(float), 0, 255)
    assert np.abs(got - want).mean() < 3
