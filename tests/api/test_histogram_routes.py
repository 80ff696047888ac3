"""Issue 7's histograms "for every route": per-image (every plane of every channel) and the
bounds of per-image and per-channels on the 16-bit multi-plane image, against numpy (the other
routes: test_histograms.py)."""

from __future__ import annotations

import numpy as np
from starlette.testclient import TestClient

from tests.api.conftest import Images
from tests.api.test_histograms import expected

KEYS = ("minimum", "maximum", "first_bin", "last_bin", "n_bins", "histogram")


def test_per_image_and_bounds_u16(client: TestClient, images: Images) -> None:
    planes = images.multi.source.planes
    base = f"/image/{images.multi.path}/histogram"
    every = np.stack(list(planes.values()))
    image = client.get(base + "/per-image", params={"n_bins": 256}).json()
    assert {k: image[k] for k in KEYS} == expected(every, 256, 16)
    bounds = client.get(base + "/per-image/bounds").json()
    assert (bounds["minimum"], bounds["maximum"]) == (int(every.min()), int(every.max()))
    items = client.get(base + "/per-channels/bounds").json()["items"]
    for item in items:
        values = np.stack([p for (c, _, _), p in planes.items() if c == item["channel"]])
        assert (item["minimum"], item["maximum"]) == (int(values.min()), int(values.max()))
        assert "histogram" not in item
