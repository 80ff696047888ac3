"""DICOM: whole-slide series detected by content and imported as one image (any instance of
the series names it); any other DICOM refused with a reason naming its SOP class and modality;
malformed DICOM refused at detection."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cytotile.errors import FormatError
from cytotile.formats import detect
from cytotile.formats.dicom import header
from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.helpers import dicomfiles, synth
from tests.helpers.samples import sample

SERIES = ("boxes_0.dcm", "boxes_1.dcm")


def series_folder(folder: Path, names: tuple[str, ...] = SERIES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(sample(name), folder / f"{name}.bin")  # names say nothing
    return folder


def test_plain_dicom_is_refused_naming_what_it_is(tmp_path: Path) -> None:
    path = dicomfiles.write_plain(tmp_path / "scan.dcm")
    with pytest.raises(FormatError) as info:
        detect(path)
    reason = info.value.details
    assert "CT Image Storage" in reason and "modality CT" in reason
    assert dicomfiles.CT_IMAGE_STORAGE in reason and "not a whole-slide image" in reason


def test_plain_dicom_import_ends_error_format(tmp_path: Path) -> None:
    path = dicomfiles.write_plain(tmp_path / "mr.dcm", "1.2.840.10008.5.1.4.1.1.4", "MR")
    root = tmp_path / "root"
    manifest = import_file(LocalStorage(root), path, settings=ImportSettings(root=str(root)))
    assert manifest.status is Status.ERROR_FORMAT
    assert manifest.reason is not None and "MR Image Storage" in manifest.reason


def test_malformed_dicom_is_refused_at_detection(tmp_path: Path) -> None:
    path = dicomfiles.write_garbled(tmp_path / "bad.dcm", sample("boxes_0.dcm"))
    with pytest.raises(FormatError, match="DICOM"):
        detect(path)


@pytest.mark.parametrize("named", SERIES)
def test_any_instance_names_the_series(tmp_path: Path, named: str) -> None:
    folder = series_folder(tmp_path / "series")
    path = folder / f"{named}.bin"
    fmt = detect(path)
    assert fmt.id == "DICOM" and fmt.multi_file
    with fmt.open(path) as source:
        meta = source.metadata
        pixels = synth.to_numpy(source.plane())
        thumb = source.associated("thumb")
    assert (meta.width, meta.height) == (16, 16)
    assert meta.physical_size_x == pytest.approx(0.499) == meta.physical_size_y
    assert meta.objective_nominal_magnification == 20
    assert meta.acquired_at == "2009-12-29T09:59:15"
    assert meta.microscope_model is not None and meta.microscope_model.startswith("Leica")
    assert meta.raw_metadata["DICOM.SOPClassUID"] == header.WSI_SOP_CLASS
    assert thumb is not None and (thumb.width, thumb.height) == (16, 16)
    import openslide

    with openslide.OpenSlide(str(folder / "boxes_0.dcm.bin")) as slide:
        expected = np.asarray(slide.read_region((0, 0), 0, slide.dimensions))[:, :, :3]
    np.testing.assert_array_equal(pixels, expected)


def test_series_instances_ignore_other_files(tmp_path: Path) -> None:
    folder = series_folder(tmp_path / "series")
    dicomfiles.write_plain(folder / "other.dcm")
    (folder / "notes.txt").write_text("not DICOM")
    found = header.series_instances(folder / "boxes_1.dcm.bin")
    assert sorted(i.path.name for i in found) == ["boxes_0.dcm.bin", "boxes_1.dcm.bin"]
    assert header.level0(found).flavor == "VOLUME"


def test_series_folder_imports_as_one_image(tmp_path: Path) -> None:
    folder = series_folder(tmp_path / "series")
    root = tmp_path / "root"
    named = folder / "boxes_1.dcm.bin"  # the thumbnail instance names the series too
    manifest = import_file(LocalStorage(root), named, settings=ImportSettings(root=str(root)))
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert manifest.format_id == "DICOM"
    assert manifest.image is not None and manifest.image["width"] == 16
    assert set(manifest.associated) == {"thumb"}
