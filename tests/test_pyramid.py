"""Tile math of the normalized pyramid, for any size."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cytotile.errors import BadParameter, TierOutOfRange, TileOutOfRange
from cytotile.pyramid import TILE_SIZE, Pyramid, normalized_sizes

sides = st.integers(min_value=1, max_value=2_000_000)


@given(sides, sides)
def test_tiers_halve_with_ceil_until_one_tile(width: int, height: int) -> None:
    sizes = normalized_sizes(width, height)
    assert sizes[0] == (width, height)
    for (w0, h0), (w1, h1) in itertools.pairwise(sizes):
        assert (w1, h1) == (math.ceil(w0 / 2), math.ceil(h0 / 2))
        assert w0 > TILE_SIZE or h0 > TILE_SIZE
    top_w, top_h = sizes[-1]
    assert top_w <= TILE_SIZE and top_h <= TILE_SIZE
    # tier k is ceil(side / 2**k): the ceil chain never drifts
    for k, (w, h) in enumerate(sizes):
        assert (w, h) == (math.ceil(width / 2**k), math.ceil(height / 2**k))


@given(sides, sides)
def test_tile_counts(width: int, height: int) -> None:
    for tier in Pyramid(width, height).tiers:
        assert tier.n_tx == math.ceil(tier.width / 256)
        assert tier.n_ty == math.ceil(tier.height / 256)
        assert tier.n_tiles == tier.n_tx * tier.n_ty
        last = tier.tile_region(tier.n_tx - 1, tier.n_ty - 1)
        assert last.right == tier.width and last.bottom == tier.height
        assert 0 < last.width <= 256 and 0 < last.height <= 256


@given(sides, sides, st.data())
def test_zoom_level_roundtrip(width: int, height: int, data: st.DataObject) -> None:
    pyramid = Pyramid(width, height)
    level = data.draw(st.integers(0, pyramid.max_level))
    zoom = pyramid.level_to_zoom(level)
    assert zoom == pyramid.max_level - level
    assert pyramid.zoom_to_level(zoom) == level
    assert pyramid.at_zoom(zoom) is pyramid.at_level(level)
    assert pyramid.at_zoom(0).width <= 256 and pyramid.at_zoom(0).height <= 256


@given(st.integers(1, 300_000), st.integers(1, 300_000), st.data())
def test_ti_txty_roundtrip(width: int, height: int, data: st.DataObject) -> None:
    pyramid = Pyramid(width, height)
    tier = pyramid.at_level(data.draw(st.integers(0, pyramid.max_level)))
    ti = data.draw(st.integers(0, tier.n_tiles - 1))
    tx, ty = tier.ti_to_txty(ti)
    assert 0 <= tx < tier.n_tx and 0 <= ty < tier.n_ty
    assert tier.txty_to_ti(tx, ty) == ti
    region = tier.tile_region(tx, ty)
    assert region.left == tx * 256 and region.top == ty * 256


def test_out_of_range() -> None:
    pyramid = Pyramid(1000, 600)
    with pytest.raises(TierOutOfRange):
        pyramid.at_level(pyramid.n_tiers)
    with pytest.raises(TierOutOfRange):
        pyramid.at_zoom(-1)
    tier = pyramid.base
    with pytest.raises(TileOutOfRange):
        tier.ti_to_txty(tier.n_tiles)
    with pytest.raises(TileOutOfRange):
        tier.txty_to_ti(tier.n_tx, 0)
    with pytest.raises(BadParameter):
        Pyramid(0, 10)


def test_most_appropriate_tier() -> None:
    pyramid = Pyramid(2220, 2967)
    assert pyramid.most_appropriate_tier(256, 256).level == pyramid.max_level - 1
    assert pyramid.most_appropriate_tier(2220, 2967).level == 0
    assert pyramid.most_appropriate_tier(5000, 5000).level == 0
    assert pyramid.most_appropriate_tier(10, 10).level == pyramid.max_level


def test_pims_info_shape() -> None:
    info = Pyramid(2220, 2967).info
    assert info["n_tiers"] == 5
    tiers = info["tiers"]
    assert isinstance(tiers, list)
    assert tiers[0]["level"] == 0 and tiers[0]["zoom"] == 4
    assert tiers[1]["width"] == 1110 and tiers[1]["height"] == 1484
    assert tiers[0]["downsampling_factor"] == 1.0
