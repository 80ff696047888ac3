"""Conformance cases of DICOM whole-slide microscopy, compared with OpenSlide's DICOM reader."""

from __future__ import annotations

from pathlib import Path

from tests.formats.conformance.case import Case, real, register
from tests.formats.conformance.references import OpenSlideReference
from tests.helpers import dicomfiles, vendors

register(
    real(
        "boxes_0.dcm",
        "DICOM",
        OpenSlideReference,
        siblings=("boxes_1.dcm",),
        levels_key="OPENSLIDE.level-count",
        metadata={
            "acquired_at": "2009-12-29T09:59:15",
            "raw:DICOM.Modality": "SM",
            "raw:DICOM.Manufacturer": "Leica Biosystems",
        },
    ),
)


def _series(folder: Path) -> Path:
    """A synthetic series named by its LABEL instance: any instance names the image."""
    paths = dicomfiles.write_wsi_series(folder / "series", vendors.tissue(600, 400))
    return next(p for p in paths if p.name == "label.dcm")


register(
    Case(
        "synthetic-dicom-series",
        "DICOM",
        _series,
        OpenSlideReference,
        multi_file=True,
        levels_key="OPENSLIDE.level-count",
        metadata={
            "physical_size_x": 0.5,
            "objective_nominal_magnification": 20.0,
            "acquired_at": "2021-03-04T13:14:15",
            "microscope_model": "Synthetic pydicom writer",
        },
    ),
)
