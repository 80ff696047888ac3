"""The planes of the common formats, before any pyramid: level 0 as cytotile hands it to the
converter equals the original as an independent library reads it (alpha flattened onto white
by the reference with numpy), for every conformance case of these formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytotile.formats import detect
from tests.formats.conformance import cases_common
from tests.formats.conformance.case import CASES, Case
from tests.helpers import synth

COMMON = [
    case for case in CASES.values() if case.format_id in {"JPEG2000", "WEBP", "BMP", "PPM", "GIF"}
]
COMMON += [CASES["cmyk.jpg"], CASES["ycck.jpg"]]
assert cases_common  # the module registers the cases above


@pytest.mark.parametrize("case", COMMON, ids=str)
def test_plane_equals_the_reference(case: Case, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    with detect(path).open(path) as source:
        meta = source.metadata
        plane = synth.to_numpy(source.plane()).astype(np.int64)
    assert (plane.shape[1], plane.shape[0], plane.shape[2]) == (
        meta.width,
        meta.height,
        meta.n_samples,
    )
    reference = case.reference(path).full().astype(np.int64)
    if reference.shape[2] == 3 and plane.shape[2] == 1:  # a grey palette the reference expands
        reference = reference[:, :, :1]
    diff = np.abs(plane - reference)
    # exact, but for the rounding of the alpha flattening
    alpha = any(word in case.id for word in ("alpha", "rgba", "bgra"))
    assert diff.mean() < (0.5 if alpha else 1e-9), case.id
