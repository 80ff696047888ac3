"""Conformance cases of DICOM whole-slide microscopy, compared with OpenSlide's DICOM reader."""

from __future__ import annotations

from tests.formats.conformance.case import real, register
from tests.formats.conformance.references import OpenSlideReference

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
        # measured 4.6 (tile) and 4.4 (thumb): a 16x16 crop of coloured tissue whose JPEG frames
        # are not a TIFF page, so level 0 is re-encoded as 4:2:0 JPEG at quality 85 instead of
        # DCT-copied; on 16x16 pixels the halved chroma of stain edges weighs on the mean
        tolerance=5.0,
    ),
)
