"""Pixel truth on real samples: what the HTTP API serves equals the original, read independently
(OpenSlide for SVS, libvips otherwise), within the tolerances of docs/quality.md: tiers encoded
YCbCr 4:2:0 (quality 85, or the source's within [80, 85]) keep every tile's mean absolute
difference under 9 and each tier's mean under 4 (chroma subsampling of saturated stains and
edges); the full-resolution tier of a JPEG-tiled source is its own pixels (max difference 2)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
import pyvips
from PIL import Image
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.pyramid import Pyramid
from cytotile.settings import ImportSettings, ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.pixels import box_downsample, mad
from tests.helpers.samples import SAMPLES

SAMPLE_NAMES = [
    "CMU-1-Small-Region.svs",
    "boxes.tiff",
    "sample.png",
    "sample.jpg",
    "libvips_sample.tif",
]
TOLERANCE = 4.0  # mean absolute difference of a tier, a window, a thumb (0-255)
WORST_TILE = 9.0  # of one tile of a 4:2:0 tier (measured: 7.9 on CMU-1-Small-Region level 1)
RETILED = {"CMU-1-Small-Region.svs"}  # JPEG-tiled: level 0 re-tiled from its coefficients


def original(name: str, stretch: bool = True) -> np.ndarray:
    """The original's level 0 as 8-bit RGB, read without cytotile; 16-bit is stretched from the
    image's own min/max per channel (PIMS's default AUTO_IMAGE intensities of thumb and tiles),
    or, ``stretch=False``, scaled from its full range (PIMS's default of window and resized,
    recorded from PIMS in issue 13)."""
    path = SAMPLES / name
    if name.endswith(".svs"):
        import openslide

        with openslide.OpenSlide(str(path)) as slide:
            rgba = slide.read_region((0, 0), 0, slide.dimensions)
            return np.asarray(rgba.convert("RGB"))
    image = pyvips.Image.new_from_file(str(path), access="random")
    pixels = image.numpy().astype(np.float64)
    if image.format == "ushort" and not stretch:
        pixels = pixels * 255 / 65535
    elif image.format == "ushort":
        lo = pixels.min(axis=(0, 1))
        hi = pixels.max(axis=(0, 1))
        pixels = (pixels - lo) / np.maximum(hi - lo, 1) * 255
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def decode(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    if not SAMPLES.is_dir():
        pytest.skip(f"no samples at {SAMPLES}")
    root = tmp_path_factory.mktemp("root")
    storage = LocalStorage(root)
    paths = {}
    for name in SAMPLE_NAMES:
        manifest = import_file(storage, SAMPLES / name, settings=ImportSettings(root=str(root)))
        assert manifest.status is Status.DEPLOYED, (name, manifest.reason)
        paths[name] = f"{manifest.id}/{manifest.original_name}"
    app = create_app(ServerSettings(root=str(root)), storage)
    with TestClient(app) as client:
        yield client, paths


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_normalized_tiles(deployed: tuple[TestClient, dict[str, str]], name: str) -> None:
    client, paths = deployed
    reference = original(name)
    pyramid = Pyramid(reference.shape[1], reference.shape[0])
    for tier in pyramid.tiers:
        mads = []
        tier_pixels = box_downsample(reference, tier.level)
        assert tier_pixels.shape[:2] == (tier.height, tier.width)
        last_tx, last_ty = tier.n_tx - 1, tier.n_ty - 1
        tiles = {(tx, last_ty) for tx in range(tier.n_tx)} | {
            (last_tx, ty) for ty in range(tier.n_ty)
        }
        tiles |= {(0, 0)}
        for tx, ty in sorted(tiles):
            url = f"/image/{paths[name]}/normalized-tile/level/{tier.level}/tx/{tx}/ty/{ty}.jpg"
            response = client.get(url)
            assert response.status_code == 200, response.text
            served = decode(response.content)
            region = tier.tile_region(tx, ty)
            assert served.shape[:2] == (region.height, region.width)  # edges are partial
            expected = tier_pixels[region.top : region.bottom, region.left : region.right]
            if name in RETILED and tier.level == 0:  # the source's own pixels: no generation
                diff = np.abs(served.astype(np.int16) - expected.astype(np.int16))
                assert int(diff.max()) <= 2, (name, tx, ty)
            mads.append(mad(served, expected))
            assert mads[-1] < WORST_TILE, (name, tier.level, tx, ty)
        assert float(np.mean(mads)) < TOLERANCE, (name, tier.level, mads)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_thumb(deployed: tuple[TestClient, dict[str, str]], name: str) -> None:
    client, paths = deployed
    reference = original(name)
    response = client.get(f"/image/{paths[name]}/thumb.png", params={"length": 200})
    assert response.status_code == 200, response.text
    served = decode(response.content)
    assert max(served.shape[:2]) == 200
    h, w = served.shape[:2]
    expected = pyvips.Image.new_from_array(reference).resize(
        w / reference.shape[1], vscale=h / reference.shape[0]
    )
    assert mad(served, expected.numpy()[:h, :w]) < TOLERANCE


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_window(deployed: tuple[TestClient, dict[str, str]], name: str) -> None:
    client, paths = deployed
    reference = original(name, stretch=False)
    height, width = reference.shape[:2]
    region = {"left": width // 5, "top": height // 4, "width": width // 2, "height": height // 3}
    body = {"region": region, "level": 0}
    response = client.post(f"/image/{paths[name]}/window.png", json=body)
    assert response.status_code == 200, response.text
    served = decode(response.content)
    expected = reference[
        region["top"] : region["top"] + region["height"],
        region["left"] : region["left"] + region["width"],
    ]
    assert mad(served, expected) < TOLERANCE
