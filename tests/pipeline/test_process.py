"""Pixel processing: stretch, gamma, log, colours, merge, filters, colormaps."""

from __future__ import annotations

import numpy as np
import pytest

from cytotile.errors import BadParameter
from cytotile.pipeline import colormaps, filters
from cytotile.pipeline.process import ChannelRender, convert_colorspace, render, stretch


def test_identity_stretch() -> None:
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = render(values[..., None], [ChannelRender(0, 255)])
    assert out.dtype == np.uint8 and np.array_equal(out[..., 0], values)


def test_stretch_16_bits() -> None:
    values = np.array([[100, 1100, 2100, 5000]], dtype=np.uint16)
    out = render(values[..., None], [ChannelRender(100, 2100)])
    assert out[0, :, 0].tolist() == [0, 128, 255, 255]
    wide = render(values[..., None], [ChannelRender(0, 65535)], bits=16)
    assert wide.dtype == np.uint16 and np.array_equal(wide[..., 0], values)


def test_equal_bounds_threshold() -> None:
    v = stretch(np.array([9, 10, 11]), ChannelRender(10, 10), log=False)
    assert v.tolist() == [0.0, 0.0, 1.0]


def test_gamma_and_log() -> None:
    values = np.array([[0, 64, 128, 255]], dtype=np.uint8)[..., None]
    bright = render(values, [ChannelRender(0, 255, gamma=0.5)])[0, :, 0]
    dark = render(values, [ChannelRender(0, 255, gamma=2.0)])[0, :, 0]
    assert bright[1] > 64 > dark[1] and bright[0] == dark[0] == 0 and bright[3] == 255
    logged = render(values, [ChannelRender(0, 255)], log=True)[0, :, 0]
    assert logged[1] > 150 and logged[3] == 255


def test_merge_colours() -> None:
    a = np.full((2, 2), 255, np.uint8)
    b = np.full((2, 2), 128, np.uint8)
    out = render(
        np.stack([a, b], axis=2),
        [ChannelRender(0, 255, color=(1, 0, 0)), ChannelRender(0, 255, color=(0, 1, 1))],
    )
    assert out.shape == (2, 2, 3) and out[0, 0].tolist() == [255, 128, 128]


def test_rgb_round_trip_through_the_palette() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    channels = [ChannelRender(0, 255, color=colormaps.COLORS[n]) for n in ("RED", "GREEN", "BLUE")]
    assert np.array_equal(render(rgb, channels), rgb)


def test_colormaps() -> None:
    values = np.array([[0, 255]], dtype=np.uint8)[..., None]
    jet = render(values, [ChannelRender(0, 255, colormap="JET")])
    assert jet[0, 0].tolist() == [0, 0, 128] and jet[0, 1].tolist() == [128, 0, 0]  # rint(127.5)
    reverse = render(values, [ChannelRender(0, 255, colormap="!RED")])
    assert reverse[0, 0].tolist() == [255, 0, 0] and reverse[0, 1].tolist() == [0, 0, 0]
    hexed = render(values, [ChannelRender(0, 255, colormap="#00FF00")])
    assert hexed[0, 1].tolist() == [0, 255, 0]
    assert all(colormaps.lut(c).shape == (256, 3) for c in ("VIRIDIS", "HOT", "!JET", "GREY"))
    assert {i["id"] for i in colormaps.describe()} >= {"JET", "VIRIDIS"}


def test_colormap_ids() -> None:
    assert colormaps.normalize_id(" jet ") == "JET"
    assert colormaps.normalize_id("default") == "DEFAULT"
    assert colormaps.normalize_id("!#aabbcc") == "!#AABBCC"
    with pytest.raises(BadParameter):
        colormaps.normalize_id("#12345")


@pytest.mark.parametrize("fid", list(filters.FILTERS))
def test_threshold_filters_split_two_populations(fid: str) -> None:
    rng = np.random.default_rng(3)
    dark = rng.normal(60, 8, 5000)
    bright = rng.normal(190, 8, 5000)
    grey = np.clip(np.concatenate([dark, bright]), 0, 255).astype(np.uint8).reshape(100, 100)
    t = filters.threshold(fid, grey)
    assert 80 < t < 170, (fid, t)
    out = render(grey[..., None], [ChannelRender(0, 255)], filter_id=fid)
    assert set(np.unique(out).tolist()) == {0, 255}
    assert (out == 255).sum() == (grey > t).sum()


def test_threshold_of_a_flat_image() -> None:
    flat = np.full((4, 4), 7, np.uint8)
    assert filters.threshold("OTSU", flat) == 7
    out = render(flat[..., None], [ChannelRender(0, 255)], filter_id="OTSU")
    assert out.max() == 0


def test_filter_ids() -> None:
    assert filters.normalize_id("yen") == "YEN" and filters.normalize_id("") is None
    with pytest.raises(BadParameter, match="unknown filter"):
        filters.normalize_id("H_DAB")  # PIMS's id is HDAB-DAB
    with pytest.raises(BadParameter, match="unknown"):
        filters.normalize_id("sharpen")


def test_colorspaces() -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 200
    grey = render(rgb, [ChannelRender(0, 255, color=c) for c in ((1, 0, 0), (0, 1, 0), (0, 0, 1))],
                  colorspace="GRAY")  # fmt: skip
    assert grey.shape == (2, 2, 1) and grey[0, 0, 0] == round(200 * 0.299)
    color = render(rgb[..., :1], [ChannelRender(0, 255)], colorspace="COLOR")
    assert color.shape == (2, 2, 3)
    assert convert_colorspace(rgb, "GRAY").shape == (2, 2, 1)
    assert convert_colorspace(rgb[..., :1], "COLOR").shape == (2, 2, 3)
    assert convert_colorspace(rgb, "AUTO") is rgb


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError):
        render(np.zeros((2, 2, 2), np.uint8), [ChannelRender(0, 255)])
