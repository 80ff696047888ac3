"""Output geometry: target sizes, the size limit, source tiers, windows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cytotile.errors import TierOutOfRange, TileOutOfRange, TooLarge
from cytotile.pipeline.params import Safety
from cytotile.pipeline.regions import Target, WindowInput
from cytotile.pipeline.sizes import (
    RegionOutOfBounds,
    limit,
    region_in,
    scaled_size,
    source_tier,
    window_region,
)
from cytotile.pyramid import Pyramid, Region


def test_scaled_sizes() -> None:
    assert scaled_size(Target(length=100), 1000, 500, None) == (100, 50)
    assert scaled_size(Target(length=100), 500, 1000, None) == (50, 100)
    assert scaled_size(Target(width=250, length=10), 1000, 500, None) == (250, 125)
    assert scaled_size(Target(height=250, width=10), 1000, 500, None) == (500, 250)
    assert scaled_size(Target(length=0.5), 1000, 500, None) == (500, 250)
    assert scaled_size(Target(), 1000, 500, None) == (1000, 500)
    assert scaled_size(Target(length=1), 1000, 10, None) == (1, 1)


def test_tier_targets() -> None:
    pyramid = Pyramid(1001, 777)
    assert scaled_size(Target(level=1, length=5), 1001, 777, pyramid) == (501, 389)
    assert scaled_size(Target(zoom=0), 1001, 777, pyramid) == (251, 195)
    assert scaled_size(Target(level=1), 100, 50, pyramid, pyramid.at_level(0)) == (50, 25)
    assert scaled_size(Target(level=0), 100, 50, pyramid, pyramid.at_level(1)) == (200, 100)
    with pytest.raises(TierOutOfRange):
        scaled_size(Target(level=3), 1001, 777, pyramid)
    # without a pyramid, tiers are ignored
    assert scaled_size(Target(level=1), 1001, 777, None) == (1001, 777)


def test_limit() -> None:
    assert limit(100, 100, 10_000, Safety.SAFE_REJECT) == (100, 100, {})
    with pytest.raises(TooLarge, match="10001"):
        limit(10001, 1, 10_000, Safety.SAFE_REJECT)
    assert limit(10001, 1, 10_000, Safety.UNSAFE)[:2] == (10001, 1)
    w, h, headers = limit(400, 100, 10_000, Safety.SAFE_RESIZE)
    assert w * h <= 10_000 and (w, h) == (200, 50)
    assert "request_width=400" in headers["X-Image-Size-Limit"]


@given(st.integers(1, 5000), st.integers(1, 5000), st.integers(1, 10**6))
def test_safe_resize_always_fits(width: int, height: int, max_pixels: int) -> None:
    w, h, _ = limit(width, height, max_pixels, Safety.SAFE_RESIZE)
    assert w >= 1 and h >= 1
    assert w * h <= max(max_pixels, 1) or (w == 1 or h == 1)


def test_source_tier_never_upsamples() -> None:
    pyramid = Pyramid(4000, 3000)
    base = pyramid.base
    full = Region(0, 0, 4000, 3000)
    assert source_tier(pyramid, base, full, 256, 192).level == 3  # 500x375
    assert source_tier(pyramid, base, full, 4000, 3000).level == 0
    assert source_tier(pyramid, base, full, 8000, 6000).level == 0
    small = Region(0, 0, 400, 300)
    assert source_tier(pyramid, base, small, 100, 75).level == 2


def test_region_in() -> None:
    pyramid = Pyramid(1001, 777)
    level0, level1 = pyramid.at_level(0), pyramid.at_level(1)
    assert region_in(Region(10, 10, 100, 50), level0, level0) == Region(10, 10, 100, 50)
    mapped = region_in(Region(11, 11, 101, 51), level0, level1)
    assert mapped.left == 5 and mapped.right >= (11 + 101) * 501 / 1001
    edge = region_in(Region(1000, 776, 1, 1), level0, pyramid.at_level(2))
    assert edge.right <= 251 and edge.bottom <= 195 and edge.width >= 1


def test_window_regions() -> None:
    pyramid = Pyramid(1001, 777)
    ref, region = window_region(pyramid, WindowInput(ti=5, tier_kind="level", tier=0))
    assert ref.level == 0 and region == Region(256, 256, 256, 256)
    ref, region = window_region(pyramid, WindowInput(tx=1, ty=1, tier_kind="zoom", tier=1))
    assert ref.level == 1 and region == Region(256, 256, 245, 133)
    with pytest.raises(RegionOutOfBounds):
        window_region(pyramid, WindowInput(Region(0, 0, 1002, 1)))
    with pytest.raises(TileOutOfRange):
        window_region(pyramid, WindowInput(ti=16))
