"""Every colormap form PIMS accepts, through a tile route, on a synthesized 2-channel 16-bit
image of flat blocks (red and green in its metadata): known channel values give known RGB."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

from cytotile.formats.base import ChannelInfo, ImageMetadata
from tests.api.conftest import Images, decode
from tests.api.test_cytomine_calls import CORE_TILE_QUERY
from tests.helpers.deployed import ArraySource, Deployed, deploy

BLOCK = 32
#: (channel 0, channel 1) values of the blocks, row by row
VALUES = [(0, 4095), (100, 4095), (0, 2000), (50, 3000), (255, 0), (30, 60000), (200, 1000), (7, 9)]


@pytest.fixture(scope="module")
def blocks(images: Images) -> Deployed:
    width, height = BLOCK * 2, BLOCK * len(VALUES) // 2
    meta = ImageMetadata("TEST", width, height, 2, 2, 1, "uint16", 16)
    meta.channels = [ChannelInfo(0, "DAPI", "#FF0000"), ChannelInfo(1, "FITC", "#00FF00")]
    planes = {}
    for c in range(2):
        plane = np.zeros((height, width, 1), dtype=np.uint16)
        for k, values in enumerate(VALUES):
            row, col = divmod(k, 2)
            plane[row * BLOCK : (row + 1) * BLOCK, col * BLOCK : (col + 1) * BLOCK] = values[c]
        planes[(c, 0, 0)] = plane
    return deploy(images.storage, ArraySource(meta, planes), "blocks.ome.tif")


def centres(pixels: np.ndarray) -> np.ndarray:
    """(blocks, 3) mean RGB of each block's centre (away from lossy codecs' block edges)."""
    out = []
    for k in range(len(VALUES)):
        row, col = divmod(k, 2)
        top, left = row * BLOCK + 8, col * BLOCK + 8
        out.append(pixels[top : top + 16, left : left + 16].reshape(-1, pixels.shape[2]).mean(0))
    return np.array(out)


def ramp(values: np.ndarray, hi: float) -> np.ndarray:
    return np.clip(values / hi, 0.0, 1.0)


C0 = np.array([v[0] for v in VALUES], dtype=float)
C1 = np.array([v[1] for v in VALUES], dtype=float)
RED, GREEN, WHITE = np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.ones(3)
R0, R1 = ramp(C0, 255)[:, None], ramp(C1, 4095)[:, None]


def composite(*parts: np.ndarray) -> np.ndarray:
    return np.clip(sum(parts), 0.0, 1.0) * 255  # type: ignore[return-value]


def test_core_exact_tile_call(client: TestClient, blocks: Deployed) -> None:
    url = f"/ims/image/{blocks.path}/normalized-tile/zoom/0/tx/0/ty/0?{CORE_TILE_QUERY}"
    tile = client.get(url, headers={"Accept": "image/webp"})
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/webp"
    # channel 0 DEFAULT: its own red over 0..255; channel 1 !FF0000: red down to black at 4095
    want = composite(R0 * RED, (1 - R1) * RED)
    got = centres(decode(tile.content)[..., :3])
    assert np.abs(got - want).max() <= 6  # lossy WebP


CASES = {
    "DEFAULT": composite(R0 * RED, R1 * GREEN),
    "DEFAULT,DEFAULT": composite(R0 * RED, R1 * GREEN),
    "NONE": composite(R0 * WHITE, R1 * WHITE),  # no colormap: every channel grey
    "!DEFAULT": composite((1 - R0) * RED, (1 - R1) * GREEN),
    "ff0000,#00F": composite(R0 * RED, R1 * np.array([0, 0, 1.0])),
    "!#f00,!0000ff": composite((1 - R0) * RED, (1 - R1) * np.array([0, 0, 1.0])),
    "yellow,NONE": composite(R0 * np.array([1.0, 1.0, 0]), R1 * WHITE),
    "!cyan,DEFAULT": composite((1 - R0) * np.array([0, 1.0, 1.0]), R1 * GREEN),
}


@pytest.mark.parametrize("cmaps", sorted(CASES))
def test_colormap_forms(client: TestClient, blocks: Deployed, cmaps: str) -> None:
    query = f"channels=0,1&min_intensities=0,0&max_intensities=255,4095&colormaps={cmaps}"
    url = f"/image/{blocks.path}/normalized-tile/zoom/0/tx/0/ty/0.png?{query}"
    tile = client.get(url.replace("#", "%23"))
    assert tile.status_code == 200, tile.text
    assert np.abs(centres(decode(tile.content)) - CASES[cmaps]).max() <= 0.5


@pytest.mark.parametrize("cmap", ["VIRIDIS", "!VIRIDIS", "!JET"])
def test_named_maps_on_one_channel(client: TestClient, blocks: Deployed, cmap: str) -> None:
    from cytotile.pipeline import colormaps

    query = f"channels=0&min_intensities=0&max_intensities=255&colormaps={cmap}"
    url = f"/image/{blocks.path}/normalized-tile/zoom/0/tx/0/ty/0.png?{query}"
    tile = client.get(url)
    assert tile.status_code == 200, tile.text
    want = colormaps.lut(cmap)[np.clip(C0, 0, 255).astype(int)] * 255
    assert np.abs(centres(decode(tile.content)) - want).max() <= 0.5


@pytest.mark.parametrize("bad", ["!NONE", "#12345", "!!RED", "GGG", "NOPE"])
def test_refused_forms(client: TestClient, blocks: Deployed, bad: str) -> None:
    url = f"/image/{blocks.path}/normalized-tile/zoom/0/tx/0/ty/0.png?colormaps={bad}"
    assert client.get(url.replace("#", "%23")).status_code == 422


def test_none_on_an_rgb_image_is_the_image(client: TestClient, images: Images) -> None:
    base = f"/image/{images.rgb.path}/normalized-tile/level/0/ti/0.png"
    plain = decode(client.get(base).content)
    assert np.array_equal(decode(client.get(base + "?colormaps=NONE").content), plain)
    # two of its samples without colormap: grey ramps added (PIMS: no colormap, grey)
    two = decode(client.get(base + "?channels=0,1&colormaps=NONE").content).astype(int)
    want = np.minimum(plain[..., 0].astype(int) + plain[..., 1], 255)
    assert np.abs(two - want[..., None]).max() <= 1
