"""DICOM whole-slide frames re-tiled in the DCT domain: a TILED_FULL JPEG Baseline level's
frames are copied coefficient by coefficient; other DICOM takes the re-encode path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytotile.formats.dicom.wsi import DicomWsiFormat
from cytotile.importer.convert import convert
from cytotile.importer.dicomframes import probe_dicom
from cytotile.importer.retile import NotRetilable
from cytotile.storage.local import LocalStorage
from cytotile.tiff.reader import PyramidReader
from tests.helpers import dicomfiles, vendors


def test_frames_are_retiled_to_openslides_pixels(tmp_path: Path) -> None:
    import openslide

    paths = dicomfiles.write_wsi_series(tmp_path / "series", vendors.tissue(600, 400))
    level = probe_dicom(paths[0])
    assert (level.width, level.height, level.tile_width, level.n_tx, level.n_ty) == (
        600,
        400,
        256,
        3,
        2,
    )
    assert level.photometric == 6 and level.frame.mcu_width == 16  # YCbCr 4:2:0 frames
    with DicomWsiFormat.open(paths[0]) as source:
        assert source.dicom_level0 == paths[0]
        result = convert(source, tmp_path / "dcm.pyr.tif", workdir=tmp_path)
    assert result.method == "dct-retile"
    reader = PyramidReader.load(LocalStorage(tmp_path), "dcm.pyr.tif")
    with openslide.OpenSlide(str(paths[0])) as slide:
        for tx, ty in ((0, 0), (1, 0), (2, 1)):  # (2, 1): the corner, 88x144 of a padded frame
            tile = reader.read_tile(0, 0, tx, ty)[:, :, :3].astype(np.int16)
            size = (tile.shape[1], tile.shape[0])
            theirs = np.asarray(slide.read_region((tx * 256, ty * 256), 0, size))[:, :, :3]
            diff = np.abs(tile - theirs.astype(np.int16))
            # the frames are the 256 grid: a full tile is its frame's pixels exactly; an exact-size
            # edge tile differs only where chroma upsampling reads the frame's padding
            assert int(diff[:-2, :-2].max()) == 0, (tx, ty)
            assert int(diff.max()) <= 32


def test_other_dicom_is_re_encoded(tmp_path: Path) -> None:
    plain = dicomfiles.write_plain(tmp_path / "ct.dcm")
    with pytest.raises(NotRetilable, match="transfer syntax"):
        probe_dicom(plain)
    series = dicomfiles.write_wsi_series(tmp_path / "series", vendors.tissue(300, 300), 1)
    import pydicom

    ds = pydicom.dcmread(series[0])
    ds.DimensionOrganizationType = "TILED_SPARSE"
    ds.save_as(tmp_path / "sparse.dcm")
    with pytest.raises(NotRetilable, match="TILED_FULL"):
        probe_dicom(tmp_path / "sparse.dcm")
