"""Conformance cases of the first common formats: JPEG and PNG (8/16-bit, palette, alpha)."""

from __future__ import annotations

from pathlib import Path

from tests.formats.conformance.case import Case, real, register
from tests.formats.conformance.references import PillowReference, VipsReference
from tests.helpers import synth


def _jpeg(folder: Path) -> Path:
    path = folder / "photo.png"  # a lying extension: content decides
    path.write_bytes(synth.tissue(333, 222).jpegsave_buffer(Q=90))
    return path


def _png_grey(folder: Path) -> Path:
    path = folder / "grey.png"
    synth.tissue(150, 90)[1].copy(interpretation="b-w").pngsave(str(path))
    return path


register(
    real("sample.png", "PNG", VipsReference, pixel_type="uint16"),
    real("indexed.png", "PNG", PillowReference),  # dithered palette
    real("sample.jpg", "JPEG", PillowReference),
    Case("synthetic-jpeg", "JPEG", _jpeg, PillowReference),
    Case("synthetic-png-grey", "PNG", _png_grey, PillowReference, n_channels=1),
)
