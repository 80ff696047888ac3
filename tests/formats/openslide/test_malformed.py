"""Damaged vendor slides: detected by their signature, then refused by OpenSlide with a reason
(ERROR_FORMAT), never a crash or a blank image."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from cytotile.errors import FormatError
from cytotile.formats import detect
from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.helpers import leica_ventana, mrxsfiles, sakurafiles, slidefiles, vendors


def philips_missing_level_spacing(folder: Path) -> Path:
    path = vendors.write_philips(folder / "p.tiff", vendors.tissue(300, 200), 3)
    data = path.read_bytes()
    # one PixelDataRepresentation fewer than the pyramid has levels (same length: the XML
    # attribute name is changed, not removed)
    marker = b'ObjectType="PixelDataRepresentation"'
    at = data.rfind(marker)
    path.write_bytes(data[:at] + b'ObjectType="PixelDataRepresentatioX"' + data[at + len(marker) :])
    return path


def scn_bad_xml(folder: Path) -> Path:
    path = leica_ventana.write_scn(folder / "s.scn", vendors.tissue(300, 200), 2)
    data = path.read_bytes()
    at = data.find(b"</collection>")
    path.write_bytes(data[:at] + b"<collectioX>" + data[at + len(b"</collection>") :])
    return path


def mrxs_truncated_index(folder: Path) -> Path:
    named = mrxsfiles.write_mrxs(folder, vendors.tissue(512, 512))
    index = folder / "slide" / "Index.dat"
    index.write_bytes(index.read_bytes()[:40])
    return named


def svslide_without_header(folder: Path) -> Path:
    path = sakurafiles.write_svslide(folder / "s.svslide", vendors.tissue(256, 256), n_levels=1)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM SVSlideDataTable_0001 WHERE id = 'Header'")
    return path


def vms_without_its_jpegs(folder: Path) -> Path:
    named = slidefiles.write_vms(folder / "v", vendors.tissue(512, 384))
    (named.parent / "slide.jpg").unlink()
    return named


DAMAGED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "philips": (philips_missing_level_spacing, "PHILIPS"),
    "scn": (scn_bad_xml, "SCN"),
    "mrxs": (mrxs_truncated_index, "MRXS"),
    "svslide": (svslide_without_header, "SVSLIDE"),
    "vms": (vms_without_its_jpegs, "VMS"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_damaged_slides_are_refused_with_a_reason(tmp_path: Path, kind: str) -> None:
    make, format_id = DAMAGED[kind]
    path = make(tmp_path)
    fmt = detect(path)
    assert fmt.id == format_id
    with pytest.raises(FormatError, match="OpenSlide") as info:
        fmt.open(path)
    assert fmt.name in info.value.details
    assert str(tmp_path) not in info.value.details  # no server paths in reasons


def test_a_damaged_slide_import_ends_error_format(tmp_path: Path) -> None:
    path = mrxs_truncated_index(tmp_path / "slide")
    root = tmp_path / "root"
    manifest = import_file(LocalStorage(root), path, settings=ImportSettings(root=str(root)))
    assert manifest.status is Status.ERROR_FORMAT
    assert manifest.reason is not None and "3DHistech MRXS" in manifest.reason
