"""The OpenAPI description's older histogram routes (``histograms/full``, ``histograms/c/{c}``,
``histograms/c/{c}/z/{z}/t/{t}``): their counts equal numpy's on the full-resolution planes of
the 16-bit multi-plane image, as the current routes' do (test_histograms.py)."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.api.conftest import Images

N_BINS = 256


def counts(values: np.ndarray) -> list[int]:
    return [int(n) for n in np.histogram(values, bins=N_BINS, range=(0, 65536))[0]]


def test_full_histogram_counts(client: TestClient, images: Images) -> None:
    planes = images.multi.source.planes
    url = f"/image/{images.multi.path}/histograms/full"
    full = client.get(url, params={"n_bins": N_BINS}).json()
    every = np.stack(list(planes.values()))
    assert full["hist"] == counts(every)
    assert (full["minimum"], full["maximum"]) == (int(every.min()), int(every.max()))


@pytest.mark.parametrize("channel", [0, 1])
def test_channel_and_plane_histogram_counts(
    client: TestClient, images: Images, channel: int
) -> None:
    planes = images.multi.source.planes
    base = f"/image/{images.multi.path}/histograms/c/{channel}"
    item = client.get(base, params={"n_bins": N_BINS}).json()["items"][0]
    values = np.stack([p for (c, _, _), p in planes.items() if c == channel])
    assert item["c"] == channel and item["hist"] == counts(values)
    for z in range(3):
        url = f"{base}/z/{z}/t/0"
        plane = client.get(url, params={"n_bins": N_BINS}).json()["items"][0]
        assert (plane["c"], plane["z"], plane["t"]) == (channel, z, 0)
        assert plane["hist"] == counts(planes[(channel, z, 0)])
        assert plane["minimum"] == int(planes[(channel, z, 0)].min())
        assert plane["maximum"] == int(planes[(channel, z, 0)].max())
