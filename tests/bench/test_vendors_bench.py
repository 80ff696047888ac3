"""The vendor-slides bench section: rows for the DICOM sample series and a small synthetic one
against OpenSlide's read (the NDPI row is skipped here to keep the test short: the samples
folder given holds the series only)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.vendors import bench_vendors

from tests.helpers.samples import sample


def test_dicom_rows_and_a_skipped_sample(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    for name in ("boxes_0.dcm", "boxes_1.dcm"):
        shutil.copyfile(sample(name), samples / name)
    section = bench_vendors(tmp_path / "run", samples, dicom_size=(512, 384))
    assert not section.errors
    rows = {r.name: r for r in section.rows}
    assert rows["NDPI test3-DAPI.ndpi: import"].note == "sample absent"
    imported = rows["DICOM boxes series: import (detect, extract, convert)"]
    assert imported.value is not None and imported.value > 0 and imported.ratio is not None
    assert rows["DICOM boxes series: import peak RSS"].value > 0  # type: ignore[operator]
    synthetic = rows["DICOM synthetic series 512x384: OpenSlide read of level 0"]
    assert synthetic.note.startswith("512x384")
