"""Colour deconvolution filters through the HTTP routes: listed in /filters, applied to tiles."""

from __future__ import annotations

import numpy as np
from starlette.testclient import TestClient

from cytotile.pipeline import deconvolution
from tests.api.conftest import Images, decode


def test_listed_and_found(client: TestClient) -> None:
    items = {i["id"]: i for i in client.get("/filters").json()["items"]}
    assert {f for f, i in items.items() if i["type"] == "PIXEL"} == set(deconvolution.FILTERS)
    one = client.get("/filters/he-eosin")
    assert one.status_code == 200 and one.json()["name"] == "H&E -> Eosin"


def test_tile_with_a_deconvolution(client: TestClient, images: Images) -> None:
    base = f"/image/{images.rgb.path}/normalized-tile/level/0/ti/0.png"
    plain = decode(client.get(base).content).astype(np.float32) / 255
    response = client.get(base + "?filters=HEDAB-H")
    assert response.status_code == 200, response.text
    got = decode(response.content)
    want = np.rint(deconvolution.apply("HEDAB-HEMATOXYLIN", plain) * 255)
    assert got.shape == want.shape and np.abs(got - want).max() <= 1
