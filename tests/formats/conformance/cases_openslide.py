"""Conformance cases of the vendor formats read through OpenSlide, compared with OpenSlide's own
reads: real samples, and small files built with the vendors' documented metadata
(tests/helpers/vendors.py, leica_ventana.py, slidefiles.py, mrxsfiles.py, sakurafiles.py) for
the formats with no sample."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.formats.conformance.case import Case, real, register
from tests.formats.conformance.references import OpenSlideReference, TifffileReference
from tests.helpers import leica_ventana, mrxsfiles, sakurafiles, slidefiles, vendors

LEVELS = "OPENSLIDE.level-count"

register(
    real(
        "test3-DAPI.ndpi",
        "NDPI",
        OpenSlideReference,
        levels_key=LEVELS,
        metadata={
            "acquired_at": "2017-02-07T13:06:43",
            "microscope_model": "C9600-12",
            "raw:HAMAMATSU.SourceLens": 40,
        },
    ),
)


def synthetic(
    name: str, write: Callable[[Path, np.ndarray], Path], width: int, height: int
) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        return write(folder / name, vendors.tissue(width, height))

    return make


def _svs_jp2k(compression: int) -> Callable[[Path, np.ndarray], Path]:
    return lambda path, base: vendors.write_svs_jp2k(path, base, compression)


register(
    Case(
        "synthetic-svs-jp2k-33003",
        "SVS",
        synthetic("j2k-ycbcr.svs", _svs_jp2k(33003), 600, 400),
        OpenSlideReference,
        metadata={"objective_nominal_magnification": 20.0, "physical_size_x": 0.5},
    ),
    Case(
        "synthetic-svs-jp2k-33005",
        "SVS",
        synthetic("j2k-rgb.svs", _svs_jp2k(33005), 500, 300),
        OpenSlideReference,
    ),
    Case(
        "synthetic-zstd-tiff",
        "OPENSLIDETIFF",
        synthetic("zstd.tif", vendors.write_zstd_tiff, 600, 400),
        TifffileReference,  # tifffile reads zstd tiles independently of OpenSlide
        levels_key=LEVELS,
        metadata={"physical_size_x": 0.25, "raw:OPENSLIDE.vendor": "generic-tiff"},
    ),
    Case(
        "synthetic-philips",
        "PHILIPS",
        synthetic("philips.tiff", vendors.write_philips, 600, 400),
        OpenSlideReference,
        levels_key=LEVELS,
        metadata={
            "acquired_at": "2021-03-04T13:14:15",
            "microscope_model": "PHILIPS",
            "objective_nominal_magnification": 40.0,
        },
    ),
    Case(
        "synthetic-scn",
        "SCN",
        synthetic("leica.scn", leica_ventana.write_scn, 600, 400),
        OpenSlideReference,
        levels_key=LEVELS,
        metadata={
            "acquired_at": "2021-03-04T13:14:15",
            "physical_size_x": 0.5,
            "objective_nominal_magnification": 20.0,
            "raw:LEICA.barcode": "SYNTHETIC-1",
        },
    ),
    Case(
        "synthetic-bif",
        "BIF",
        synthetic("ventana.bif", leica_ventana.write_bif, 512, 512),
        OpenSlideReference,
        levels_key=LEVELS,
        metadata={"raw:VENTANA.UnitNumber": "BI10N0000"},
    ),
)


def _vms(folder: Path) -> Path:
    return slidefiles.write_vms(folder / "vms", vendors.tissue(512, 384))


register(
    Case(
        "synthetic-vms",
        "VMS",
        _vms,
        OpenSlideReference,
        levels_key=LEVELS,
        multi_file=True,
        metadata={"physical_size_x": 0.5, "raw:HAMAMATSU.Reference": "Synthetic"},
    ),
)


def _mrxs(folder: Path) -> Path:
    return mrxsfiles.write_mrxs(folder, vendors.tissue(512, 512))


register(
    Case(
        "synthetic-mrxs",
        "MRXS",
        _mrxs,
        OpenSlideReference,
        levels_key=LEVELS,
        multi_file=True,
        renamable=False,  # the .mrxs name is how its data folder is found
        metadata={"physical_size_x": 0.5, "raw:MIRAX.GENERAL.SLIDE_NAME": "slide"},
    ),
)


def _svslide(folder: Path) -> Path:
    return sakurafiles.write_svslide(folder / "sakura.svslide", vendors.tissue(600, 400))


register(
    Case(
        "synthetic-svslide",
        "SVSLIDE",
        _svslide,
        OpenSlideReference,
        levels_key=LEVELS,
        metadata={
            "acquired_at": "2021-03-04T13:14:15",
            "description": "synthetic slide",
            "raw:SAKURA.SlideId": "SYNTHETIC-1",
        },
    ),
)


def _vmu(folder: Path) -> Path:
    return slidefiles.write_vmu(folder / "vmu", vendors.tissue(512, 300))


register(
    Case(
        "synthetic-vmu",
        "VMS",
        _vmu,
        OpenSlideReference,
        levels_key=LEVELS,
        multi_file=True,
        metadata={"physical_size_x": 0.5, "raw:HAMAMATSU.BitsPerPixel": 36},
    ),
)
