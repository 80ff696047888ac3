"""Conformance cases of the microscopy formats that fit the 2-D suite (one plane, grey or RGB):
ImageJ 16-bit, single-channel OME-TIFF planar and pyramidal (SubIFDs). Multi-plane behaviour
(C, Z, T, composites, projections) is tested in tests/formats/test_microscopy.py,
tests/importer/test_multiplane.py and tests/api/test_planes.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from tests.formats.conformance.case import Case, real, register
from tests.formats.conformance.references import TifffileReference


def _ome_grey16(folder: Path) -> Path:
    data = np.random.default_rng(8).integers(0, 4095, (150, 310), dtype=np.uint16)
    path = folder / "grey16.ome.tif"
    tifffile.imwrite(path, data, ome=True, photometric="minisblack")
    return path


def _ome_pyramid_rgb(folder: Path) -> Path:
    y, x = np.mgrid[0:300, 0:420]
    data = np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8)
    path = folder / "pyramid.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tif:
        opts = {"tile": (128, 128), "compression": "zlib", "photometric": "rgb"}
        tif.write(data, subifds=1, **opts)
        tif.write(data[::2, ::2], subfiletype=1, **opts)
    return path


register(
    real("CH1_16bit.tif", "IMAGEJTIFF", TifffileReference, n_channels=1, pixel_type="uint16"),
    Case(
        "synthetic-ome-grey16",
        "OMETIFF",
        _ome_grey16,
        TifffileReference,
        n_channels=1,
        pixel_type="uint16",
    ),
    Case(
        "synthetic-ome-pyramid-rgb",
        "OMETIFF",
        _ome_pyramid_rgb,
        TifffileReference,
        levels_key="tiff.Levels",
    ),
)
