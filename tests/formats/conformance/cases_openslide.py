"""Conformance cases of the vendor formats read through OpenSlide, compared with OpenSlide's own
reads: real samples, and small files built with the vendors' documented metadata
(tests/helpers/vendors.py) for the formats with no sample."""

from __future__ import annotations

from tests.formats.conformance.case import real, register
from tests.formats.conformance.references import OpenSlideReference

register(
    real(
        "test3-DAPI.ndpi",
        "NDPI",
        OpenSlideReference,
        levels_key="OPENSLIDE.level-count",
        metadata={
            "acquired_at": "2017-02-07T13:06:43",
            "microscope_model": "C9600-12",
            "raw:HAMAMATSU.SourceLens": "40",
        },
        # measured 7.0: DAPI stored as saturated blue on black; the tiers below 1:2 are JPEG
        # 4:2:0 (docs/quality.md), whose halved chroma smears blue nuclei edges (tiers 0-1:
        # 0.2; tiers 3-5: 5.0-7.6 against a box average of level 0)
        thumb_tolerance=8.0,
    ),
)
