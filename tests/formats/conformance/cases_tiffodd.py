"""Conformance cases of the TIFF oddities: old-style JPEG (compared with a decode that does not
use libtiff: the JPEG stream rebuilt from the tags, libjpeg, TIFF 6.0's YCbCr conversion) and
floating-point samples (16/32/64-bit, as 32-bit float channels, against tifffile)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from tests.formats.conformance.case import Case, real, register
from tests.formats.conformance.references import ArrayReference, TifffileReference
from tests.helpers import synth
from tests.helpers.ojpegfiles import ojpeg_reference, write_ojpeg, write_ojpeg_interchange


class OjpegReference(ArrayReference):
    """libjpeg on the JPEG stream rebuilt from the TIFF's tables, colours converted in numpy."""

    def read(self) -> np.ndarray:
        return ojpeg_reference(self.path)


class FloatReference(TifffileReference):
    """tifffile's float samples; the thumbnail resized by libvips as the others are."""

    def thumbnail(self, width: int, height: int) -> np.ndarray:
        import pyvips

        full = np.ascontiguousarray(self.full(), dtype=np.float64)
        image = pyvips.Image.new_from_array(full)
        image = image.resize(width / full.shape[1], vscale=height / full.shape[0])
        out = image.numpy()
        return (out if out.ndim == 3 else out[..., None])[:height, :width]


def _ojpeg(folder: Path) -> Path:
    return write_ojpeg(folder / "o.tif", synth.to_numpy(synth.tissue(300, 170)))


def _ojpeg_studio(folder: Path) -> Path:
    rgb = synth.to_numpy(synth.tissue(140, 90, seed=4))
    return write_ojpeg(folder / "s.tif", rgb, reference_black_white=(16, 235, 128, 240, 128, 240))


def _ojpeg_interchange(folder: Path) -> Path:
    return write_ojpeg_interchange(folder / "i.tif", synth.to_numpy(synth.tissue(200, 130, seed=6)))


def _float64_rgb_planes(folder: Path) -> Path:
    # one page: the reference stretches from its own range, the server from the whole stack's;
    # a wide range: the server's AUTO_IMAGE bounds are whole numbers (pipeline/image.py)
    data = np.random.default_rng(8).normal(0.0, 3000.0, size=(3, 90, 130))
    path = folder / "f64.tif"
    tifffile.imwrite(path, data, photometric="rgb", planarconfig="separate", metadata=None)
    return path


def _float32_grey(folder: Path) -> Path:
    data = np.random.default_rng(9).uniform(-1e3, 5e4, size=(300, 260)).astype(np.float32)
    path = folder / "f32.tif"
    tifffile.imwrite(path, data, photometric="minisblack", compression="zlib", tile=(64, 64))
    return path


register(
    real("ojpeg-tile.tif", "OJPEGTIFF", OjpegReference),
    Case("synthetic-ojpeg-ycbcr", "OJPEGTIFF", _ojpeg, OjpegReference),
    Case("synthetic-ojpeg-studio-range", "OJPEGTIFF", _ojpeg_studio, OjpegReference),
    Case("synthetic-ojpeg-interchange", "OJPEGTIFF", _ojpeg_interchange, OjpegReference),
    real("multipage_rgb.tif", "FLOATTIFF", FloatReference, pixel_type="float32"),
    Case(
        "synthetic-float64-rgb-planes", "FLOATTIFF", _float64_rgb_planes, FloatReference,
        pixel_type="float32",
    ),
    Case(
        "synthetic-float32-grey", "FLOATTIFF", _float32_grey, FloatReference, n_channels=1,
        pixel_type="float32",
    ),
)  # fmt: skip
