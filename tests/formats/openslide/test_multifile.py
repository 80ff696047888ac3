"""Multi-file vendor slides (VMS, MRXS): detected by the content of their key files, opened
whatever the named file is called, and never matched by a lone look-alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cytotile.formats import detect
from tests.helpers import mrxsfiles, slidefiles, synth, vendors


def test_mrxs_named_otherwise_opens_through_links(tmp_path: Path) -> None:
    base = vendors.tissue(512, 512)
    named = mrxsfiles.write_mrxs(tmp_path, base)
    renamed = named.rename(tmp_path / "slide.MRXS")  # the data folder is still slide/
    fmt = detect(renamed)
    assert fmt.id == "MRXS" and fmt.multi_file
    with fmt.open(renamed) as source:
        pixels = synth.to_numpy(source.plane()).astype(int)
        assert set(source.metadata.associated) == {"label", "macro"}
    assert np.abs(pixels - base).mean() < 1  # JPEG camera images at quality 92, 4:4:4


def test_lone_key_files_are_not_slides(tmp_path: Path) -> None:
    lone = tmp_path / "lone.mrxs"
    lone.write_text("[GENERAL]\nSLIDE_ID = x\n[HIERARCHICAL]\n")
    looks_like = tmp_path / "notes.txt"
    looks_like.write_text("[Virtual Microscope Specimens]\nNoJpegColumns=1\n")
    for path in (lone, looks_like):
        try:
            found = detect(path).id
        except Exception as exc:  # refused: the reason says what it looks like
            found = type(exc).__name__
        assert found not in ("MRXS", "VMS"), path


def test_vms_key_file_renamed_is_still_a_vms(tmp_path: Path) -> None:
    named = slidefiles.write_vms(tmp_path / "v", vendors.tissue(512, 384))
    renamed = named.rename(named.with_name("scan.bin"))
    fmt = detect(renamed)
    assert fmt.id == "VMS"
    with fmt.open(renamed) as source:
        assert (source.metadata.width, source.metadata.height) == (512, 384)
        assert source.metadata.physical_size_x == 0.5


def _zip_of(folder: Path, archive: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder))
    return archive


def test_zips_of_multi_file_slides_import_as_one_image(tmp_path: Path) -> None:
    from cytotile.importer.flow import import_file
    from cytotile.manifest import Status
    from cytotile.settings import ImportSettings
    from cytotile.storage.local import LocalStorage
    from tests.helpers import dicomfiles

    makers = {
        "MRXS": lambda f: mrxsfiles.write_mrxs(f, vendors.tissue(512, 512)),
        "VMS": lambda f: slidefiles.write_vms(f, vendors.tissue(512, 384)),
        "DICOM": lambda f: dicomfiles.write_wsi_series(f, vendors.tissue(300, 200)),
    }
    root = tmp_path / "root"
    for format_id, make in makers.items():
        folder = tmp_path / format_id
        make(folder)
        archive = _zip_of(folder, tmp_path / f"{format_id}.zip")
        manifest = import_file(LocalStorage(root), archive, settings=ImportSettings(root=str(root)))
        assert manifest.status is Status.DEPLOYED, (format_id, manifest.reason)
        assert manifest.format_id == format_id and not manifest.children
