"""Floating-point TIFF: 16/32/64-bit float grey or RGB samples, pages stacked, become 32-bit
float channels equal to tifffile's samples (64-bit rounded to the nearest 32-bit float)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from cytotile.formats import detect
from tests.helpers.samples import sample


@pytest.mark.parametrize("planar", ["separate", "contig"])
def test_float64_rgb_stack_is_three_float32_channels(tmp_path: Path, planar: str) -> None:
    data = np.random.default_rng(2).normal(5.0, 2.0, size=(3, 20, 30, 3))  # Z, Y, X, S
    stored = np.moveaxis(data, -1, 1) if planar == "separate" else data
    path = tmp_path / "f.tif"
    tifffile.imwrite(path, stored, photometric="rgb", planarconfig=planar, metadata=None)
    fmt = detect(path)
    assert fmt.id == "FLOATTIFF"
    with fmt.open(path) as source:
        m = source.metadata
        assert (m.n_concrete_channels, m.depth, m.pixel_type, m.significant_bits) == (
            3,
            3,
            "float32",
            32,
        )
        assert [c.suggested_name for c in m.channels] == ["R", "G", "B"]
        assert "rounded to 32-bit floats" in m.raw_metadata["cytotile.Conversion"]
        for c, z in [(0, 0), (2, 1), (1, 2)]:
            plane = source.plane(c, z, 0).numpy()
            assert plane.dtype == np.float32
            assert np.array_equal(plane, data[z, :, :, c].astype(np.float32))


def test_float16_grey_exact(tmp_path: Path) -> None:
    data = np.random.default_rng(3).uniform(-50, 50, size=(16, 24)).astype(np.float16)
    path = tmp_path / "h.tif"
    tifffile.imwrite(path, data, photometric="minisblack")
    with detect(path).open(path) as source:
        assert source.metadata.n_channels == 1
        assert np.array_equal(source.plane().numpy(), data.astype(np.float32))


def test_real_float64_sample() -> None:
    path = sample("multipage_rgb.tif")
    reference = tifffile.imread(path)  # (2, 3, 10, 10): pages of separate RGB planes
    with detect(path).open(path) as source:
        assert (source.metadata.depth, source.metadata.n_channels) == (2, 3)
        for z in range(2):
            for c in range(3):
                plane = source.plane(c, z, 0).numpy()
                assert np.array_equal(plane, reference[z, c].astype(np.float32))
