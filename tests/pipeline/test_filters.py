"""PIMS's filter ids and aliases; the MINIMUM threshold."""

from __future__ import annotations

import numpy as np

from cytotile.pipeline import filters


def test_aliases() -> None:
    assert filters.normalize_id("binary") == "ISODATA"  # ImageJ's default, as PIMS
    assert filters.canonical("Otsu") == "OTSU" and filters.canonical("sharpen") is None
    items = {i["id"]: i for i in filters.describe()}
    assert items["ISODATA"]["aliases"] == ["BINARY"] and items["OTSU"]["aliases"] == []
    assert items["MINIMUM"]["name"] == "Minimum Threshold"
    assert {items[f]["type"] for f in filters.FILTERS} == {"GLOBAL"}  # thresholds
    assert {i["type"] for i in items.values()} == {"GLOBAL", "PIXEL"}  # + colour deconvolution


def test_minimum_is_the_valley_between_two_peaks() -> None:
    rng = np.random.default_rng(4)
    # a large dark population and a small bright one: the valley sits near 150
    dark = rng.normal(70, 12, 20000)
    bright = rng.normal(210, 10, 2000)
    grey = np.clip(np.concatenate([dark, bright]), 0, 255).astype(np.uint8)
    t = filters.threshold("MINIMUM", grey)
    assert 120 < t < 190, t
    hist = np.bincount(grey, minlength=256)
    assert hist[t - 5 : t + 6].sum() < 0.01 * grey.size  # a valley indeed


def test_minimum_of_a_unimodal_histogram_falls_back_to_isodata() -> None:
    levels = np.arange(28, 229)
    grey = np.repeat(levels, 101 - np.abs(levels - 128)).astype(np.uint8)  # one clean peak
    assert filters.threshold("MINIMUM", grey) == filters.threshold("ISODATA", grey)
