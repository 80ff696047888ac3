"""X-Pims-Cache on tiles (issue 9), as PIMS sends it from its cache: HIT when the stored tile's
bytes are sent as they are (by the fast path or the full app), MISS when the tile is rendered;
CORS exposes it to browsers."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from tests.api.conftest import Images


@pytest.mark.parametrize("fast_path", [True, False])
def test_stored_tiles_hit_rendered_tiles_miss(images: Images, fast_path: bool) -> None:
    settings = ServerSettings(root=str(images.root), tile_fast_path=fast_path)
    base = f"/ims/image/{images.rgb.path}/normalized-tile/zoom/0/ti/0"
    with TestClient(create_app(settings, images.storage)) as client:
        stored = client.get(base + ".jpg", headers={"Origin": "https://cytomine.example"})
        rendered = client.get(base + ".png")
        gamma = client.get(base + ".jpg?gammas=0.5")
    assert stored.status_code == rendered.status_code == gamma.status_code == 200
    assert stored.headers["x-cytotile-passthrough"] == "1"
    assert stored.headers["x-pims-cache"] == "HIT"
    assert "x-pims-cache" in stored.headers["access-control-expose-headers"].lower()
    assert rendered.headers["x-pims-cache"] == gamma.headers["x-pims-cache"] == "MISS"
    assert gamma.headers["x-cytotile-passthrough"] == "0"
