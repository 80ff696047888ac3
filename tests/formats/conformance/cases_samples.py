"""Conformance cases of the real samples no other family's module covers, so that every sample
that imports is checked for pixel truth (issue 6): a 1-bit TIFF, a palette TIFF (LZW,
big-endian), an RGBA PNG (alpha flattened onto white)."""

from __future__ import annotations

import numpy as np

from tests.formats.conformance.case import real, register
from tests.formats.conformance.references import ArrayReference, PillowReference


class PillowGreyReference(ArrayReference):
    """Pillow's bilevel or grey pixels as 8-bit grey (1 -> 255)."""

    def read(self) -> np.ndarray:
        from PIL import Image

        with Image.open(self.path) as im:
            return np.asarray(im.convert("L"))


register(
    real("1bit.tif", "PLANARTIFF", PillowGreyReference, n_channels=1),
    real("fixture-bali.tif", "PLANARTIFF", PillowReference),
    real("rgba.png", "PNG", PillowReference),
)
