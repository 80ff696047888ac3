"""The re-encode path's stored JPEG (docs/quality.md): small images and the overview tiers of
larger ones are 4:4:4 at quality 95 or more, one generation from the source; level 0 of a larger
image stays YCbCr 4:2:0 at the configured quality."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import simplejpeg
from PIL import Image, JpegImagePlugin

from cytotile.importer import convert as conv
from cytotile.pyramid import normalized_sizes
from cytotile.storage.local import LocalStorage
from cytotile.tiff.reader import forget_pyramid, open_pyramid
from tests.helpers.deployed import ArraySource, rgb_source
from tests.helpers.pixels import box_downsample, mad


def sharp_source(width: int, height: int) -> ArraySource:
    """Saturated colour blocks with hard edges on a smooth background: what 4:2:0 smears."""
    source = rgb_source(width, height)
    pixels = source.planes[(0, 0, 0)].copy()
    rng = np.random.default_rng(3)
    for _ in range(60):
        x, y = int(rng.integers(0, width - 9)), int(rng.integers(0, height - 7))
        pixels[y : y + 7, x : x + 9] = rng.choice([[0, 0, 255], [255, 0, 0], [0, 200, 0]])
    source.planes[(0, 0, 0)] = pixels
    return source


def convert_to(tmp_path: Path, source: ArraySource) -> tuple[LocalStorage, str]:
    conv.convert(source, tmp_path / "pyramid.tif", quality=85)
    storage = LocalStorage(tmp_path)
    forget_pyramid(storage, "pyramid.tif")
    return storage, "pyramid.tif"


def sampling(data: bytes) -> str:
    """``4:4:4`` or ``4:2:0`` (Pillow's reading of the frame header)."""
    image = Image.open(io.BytesIO(data))
    assert isinstance(image, JpegImagePlugin.JpegImageFile)
    return {0: "4:4:4", 2: "4:2:0"}[JpegImagePlugin.get_sampling(image)]


def tier_pixels(storage: LocalStorage, key: str, level: int) -> np.ndarray:
    reader = open_pyramid(storage, key)
    tier = reader.tier(0, level)
    rows = []
    for ty in range(tier.n_ty):
        row = [
            simplejpeg.decode_jpeg(reader.jpeg_tile(0, level, tx, ty)) for tx in range(tier.n_tx)
        ]
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows)


def test_overview_level() -> None:
    assert conv.overview_level(normalized_sizes(1000, 800)) == 0
    assert conv.overview_level(normalized_sizes(4000, 3000)) == 1  # 2000x1500 = 3 Mpx
    assert conv.overview_level(normalized_sizes(40000, 30000)) == 5


def test_a_small_image_is_stored_444_at_high_quality(tmp_path: Path) -> None:
    source = sharp_source(600, 300)
    storage, key = convert_to(tmp_path, source)
    reader = open_pyramid(storage, key)
    for level in range(len(reader.index.tiers[0])):
        tier = reader.tier(0, level)
        for tx, ty in {(0, 0), (tier.n_tx - 1, tier.n_ty - 1)}:
            assert sampling(reader.jpeg_tile(0, level, tx, ty)) == "4:4:4", (level, tx, ty)
    pixels = source.planes[(0, 0, 0)]
    assert mad(tier_pixels(storage, key, 0), pixels) < 1.0
    assert mad(tier_pixels(storage, key, 1), box_downsample(pixels, 1)) < 1.0


def test_a_larger_image_has_444_overview_tiers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conv, "SMALL_IMAGE_PIXELS", 60_000)  # 1100x600: tiers 2.. are small
    source = sharp_source(1100, 600)
    storage, key = convert_to(tmp_path, source)
    reader = open_pyramid(storage, key)
    assert len(reader.index.tiers[0]) == 4
    # full tiles (the exact-size edge tiles are 4:4:4 at quality 97 on every tier)
    assert sampling(reader.jpeg_tile(0, 0, 1, 1)) == "4:2:0"
    assert sampling(reader.jpeg_tile(0, 1, 0, 0)) == "4:2:0"
    assert sampling(reader.jpeg_tile(0, 2, 0, 0)) == "4:4:4"
    pixels = source.planes[(0, 0, 0)]
    level2 = tier_pixels(storage, key, 2)
    assert level2.shape[:2] == (150, 275)
    # one generation from the source: the overview is as close as a 4:4:4 encode can be
    assert mad(level2, box_downsample(pixels, 2)) < 1.0
    # and closer than the 4:2:0 tier above it is to its own truth
    assert mad(level2, box_downsample(pixels, 2)) < mad(
        tier_pixels(storage, key, 1), box_downsample(pixels, 1)
    )
