"""Colour deconvolution filters: pixels synthesized from known stain concentrations (Beer-
Lambert, written out here) come back as that stain alone."""

from __future__ import annotations

import numpy as np
import pytest

from cytotile.pipeline import deconvolution, filters
from cytotile.pipeline.process import ChannelRender, render

#: scikit-image's rgb_from_hed (Ruifrok & Johnston's H, E, DAB optical density vectors)
HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
#: Fiji's H&E vectors, the third their cross product
HE = np.array([[0.644211, 0.716556, 0.266844], [0.092789, 0.954111, 0.283111], [0, 0, 0]])
HE[2] = np.cross(HE[0], HE[1])


def stained(c: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] transmitted through concentrations ``c`` (..., 3): 10^-6 per unit OD."""
    return np.clip(1e-6 ** (c @ vectors), 0.0, 1.0)


CONCENTRATIONS = np.array(
    [[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.0, 0.25],
     [0.2, 0.1, 0.0], [0.1, 0.15, 0.05], [0.05, 0.02, 0.3], [0.35, 0.3, 0.1]]
)  # fmt: skip


@pytest.mark.parametrize(
    ("fid", "vectors", "stain"),
    [("HEDAB-HEMATOXYLIN", HED, 0), ("HEDAB-EOSIN", HED, 1), ("HEDAB-DAB", HED, 2),
     ("HE-HEMATOXYLIN", HE, 0), ("HE-EOSIN", HE, 1)],
)  # fmt: skip
def test_one_stain_comes_back_alone(fid: str, vectors: np.ndarray, stain: int) -> None:
    c = CONCENTRATIONS if vectors is HED else CONCENTRATIONS * [1, 1, 0]
    rgb = stained(c, vectors).reshape(2, 4, 3).astype(np.float32)
    alone = np.zeros_like(c)
    alone[:, stain] = c[:, stain]
    want = stained(alone, vectors).reshape(2, 4, 3)
    got = deconvolution.apply(fid, rgb)
    assert got.dtype == np.float32 and got.shape == (2, 4, 3)
    assert np.abs(got - want).max() < 1e-4


def test_concentrations_are_recovered() -> None:
    rgb = stained(CONCENTRATIONS, HED)
    assert np.abs(deconvolution.concentrations(rgb, "HEDAB") - CONCENTRATIONS).max() < 1e-9


def test_white_and_grey_inputs() -> None:
    white = np.ones((1, 1, 3), np.float32)
    for fid in deconvolution.FILTERS:
        assert np.allclose(deconvolution.apply(fid, white), 1.0)  # no stain: white
    grey = np.full((1, 1, 1), 0.5, np.float32)
    assert deconvolution.apply("HDAB-DAB", grey).shape == (1, 1, 3)


def test_subtractive_primaries() -> None:
    # CMY-: each band is its own stain; yellow (R+G) has no blue: its "yellow" stain is blue's OD
    rgb = np.array([[[1.0, 1.0, 0.2]]], np.float32)
    assert np.allclose(deconvolution.apply("CMY-YELLOW", rgb), rgb, atol=1e-6)
    assert np.allclose(deconvolution.apply("CMY-CYAN", rgb), 1.0, atol=1e-6)


def test_through_the_renderer() -> None:
    rgb8 = np.rint(stained(CONCENTRATIONS, HED) * 255).astype(np.uint8).reshape(2, 4, 3)
    primaries = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    channels = [ChannelRender(0, 255, 1.0, color) for color in primaries]
    got = render(rgb8, channels, filter_id=filters.normalize_id("hedab-dab"))
    want = deconvolution.apply("HEDAB-DAB", rgb8.astype(np.float32) / 255)
    assert got.dtype == np.uint8 and np.abs(got - np.rint(want * 255)).max() <= 1
    # the DAB-free pixels come back white; the DAB-only one keeps its colour
    assert (got.reshape(-1, 3)[[0, 1, 2, 4]] >= 254).all()
    assert np.abs(got.reshape(-1, 3)[3].astype(int) - rgb8.reshape(-1, 3)[3]).max() <= 1


def test_listed_as_pims_does() -> None:
    listed = {item["id"]: item for item in filters.describe()}
    for fid, (_, _, name) in deconvolution.FILTERS.items():
        assert listed[fid]["type"] == "PIXEL" and listed[fid]["name"] == name
    assert len(deconvolution.FILTERS) == 15
    assert filters.normalize_id("He-Eosin") == "HE-EOSIN"
