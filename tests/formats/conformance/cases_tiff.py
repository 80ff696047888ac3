"""Conformance cases of the TIFF family read with tifffile and libvips: Aperio SVS (JPEG and
lossless tiles), pyramidal TIFF, planar TIFF (8/16-bit, grey, RGB, RGBA, separate planes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.formats.conformance.case import Case, real, register
from tests.formats.conformance.references import (
    OpenSlideReference,
    PillowReference,
    TifffileReference,
)
from tests.helpers import synth

register(
    real(
        "CMU-1-Small-Region.svs",
        "SVS",
        OpenSlideReference,
        metadata={"acquired_at": "2009-12-29T09:59:15", "microscope_model": "CPAPERIOCS"},
    ),
    real("small.svs", "SVS", OpenSlideReference),
    real("boxes.tiff", "PYRTIFF", TifffileReference, levels_key="pyrtiff.Levels"),
    real("libvips_sample.tif", "PLANARTIFF", TifffileReference, pixel_type="uint16"),
    real(
        "chessboard_GRAY_U16.tif",
        "PLANARTIFF",
        TifffileReference,
        n_channels=1,
        pixel_type="uint16",
    ),
    real("subsampled.tif", "PLANARTIFF", PillowReference),
)


def _svs(folder: Path) -> Path:
    base = synth.to_numpy(synth.tissue(700, 500))
    return synth.write_svs(folder / "synthetic.svs", base)


def _pyramid(folder: Path) -> Path:
    return synth.write_pyramidal_tiff(folder / "p.tif", synth.tissue(600, 300), tile=64)


def _pyramid_jpeg(folder: Path) -> Path:
    image = synth.tissue(530, 410)
    return synth.write_pyramidal_tiff(folder / "pj.tif", image, tile=256, compression="jpeg", Q=90)


def _planar_grey16(folder: Path) -> Path:
    data = np.random.default_rng(3).integers(0, 65535, (129, 257), dtype=np.uint16)
    return synth.write_tiff(folder / "g16.tif", data)


def _planar_rgba(folder: Path) -> Path:
    rgb = synth.to_numpy(synth.tissue(60, 40))
    alpha = np.random.default_rng(5).integers(0, 255, (40, 60, 1), dtype=np.uint8)
    data = np.concatenate([rgb, alpha], axis=2)
    return synth.write_tiff(
        folder / "rgba.tif", data, photometric="rgb", extrasamples=["unassalpha"]
    )


def _separate(folder: Path) -> Path:
    data = synth.to_numpy(synth.tissue(90, 70))
    planes = np.ascontiguousarray(np.moveaxis(data, -1, 0))
    return synth.write_tiff(folder / "sep.tif", planes, photometric="rgb", planarconfig="separate")


register(
    Case(
        "synthetic-svs",
        "SVS",
        _svs,
        OpenSlideReference,
        metadata={"acquired_at": "2021-03-04T13:14:15"},
    ),
    Case("synthetic-pyramid", "PYRTIFF", _pyramid, TifffileReference, levels_key="pyrtiff.Levels"),
    Case(
        "synthetic-pyramid-jpeg",
        "PYRTIFF",
        _pyramid_jpeg,
        TifffileReference,
        levels_key="pyrtiff.Levels",
    ),
    Case(
        "synthetic-planar-grey16",
        "PLANARTIFF",
        _planar_grey16,
        TifffileReference,
        n_channels=1,
        pixel_type="uint16",
    ),
    Case("synthetic-planar-rgba", "PLANARTIFF", _planar_rgba, TifffileReference),
    Case("synthetic-separate-planes", "PLANARTIFF", _separate, TifffileReference),
)
