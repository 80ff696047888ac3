"""PIMS's histogram routes: counts equal numpy's on the full-resolution planes, for every pool."""

from __future__ import annotations

import numpy as np
from starlette.testclient import TestClient

from tests.api.conftest import Images


def expected(values: np.ndarray, n_bins: int, bits: int) -> dict[str, object]:
    hist = np.histogram(values, bins=n_bins, range=(0, 1 << bits))[0]
    nonzero = np.flatnonzero(hist)
    first, last = int(nonzero[0]), int(nonzero[-1])
    return {
        "minimum": int(values.min()),
        "maximum": int(values.max()),
        "first_bin": first,
        "last_bin": last,
        "n_bins": n_bins,
        "histogram": hist[first : last + 1].tolist(),
    }


def test_per_image_rgb(client: TestClient, images: Images) -> None:
    base = f"/image/{images.rgb.path}/histogram/per-image"
    got = client.get(base).json()
    assert got["type"] == "COMPLETE"
    assert {k: got[k] for k in expected(images.rgb.pixels, 256, 8)} == expected(
        images.rgb.pixels, 256, 8
    )
    bounds = client.get(base + "/bounds").json()
    assert bounds == {"type": "COMPLETE", "minimum": got["minimum"], "maximum": got["maximum"]}
    full = client.get(base, params={"n_bins": 16, "full_range": "true"}).json()
    assert full["histogram"] == np.histogram(images.rgb.pixels, 16, (0, 256))[0].tolist()
    assert client.get(base, params={"n_bins": 3}).status_code in (400, 422)


def test_per_channels_and_planes_u16(client: TestClient, images: Images) -> None:
    multi = images.multi
    planes = multi.source.planes
    base = f"/image/{multi.path}/histogram"
    items = client.get(base + "/per-channels", params={"n_bins": 64}).json()["items"]
    assert [i["channel"] for i in items] == [0, 1]
    assert items[1]["color"] == "#0f0"  # as /info/channels gives it (PIMS)
    for item in items:
        values = np.stack([p for (c, _, _), p in planes.items() if c == item["channel"]])
        assert {
            k: item[k]
            for k in ("minimum", "maximum", "first_bin", "last_bin", "n_bins", "histogram")
        } == expected(values, 64, 16)
    one = client.get(base + "/per-plane/z/2/t/0", params={"channels": "1"}).json()["items"]
    assert [(i["channel"], i["z_slice"], i["timepoint"]) for i in one] == [(1, 2, 0)]
    got = {
        k: one[0][k] for k in ("minimum", "maximum", "first_bin", "last_bin", "n_bins", "histogram")
    }
    assert got == expected(planes[(1, 2, 0)], 256, 16)
    bounds = client.get(base + "/per-plane/z/0/t/0/bounds").json()["items"]
    assert [(b["channel"], b["minimum"], b["maximum"]) for b in bounds] == [
        (c, int(planes[(c, 0, 0)].min()), int(planes[(c, 0, 0)].max())) for c in (0, 1)
    ]
    assert "histogram" not in bounds[0]
    assert client.get(base + "/per-plane/z/3/t/0").status_code == 422
    assert client.get(base + "/per-channels", params={"channels": "2"}).status_code == 422
    image = client.get(base + "/per-image", params={"n_bins": 4096}).json()
    assert image["n_bins"] == 4096
    assert sum(image["histogram"]) == sum(p.size for p in planes.values())
