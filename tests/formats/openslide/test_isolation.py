"""OpenSlide runs only in the import's isolated steps: detection and the serving side never load
it, a slide OpenSlide cannot decode ends ERROR_CONVERSION with a reason, and an OpenSlide call
that aborts the process ends ERROR_CONVERSION too, the importer alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cytotile.importer.flow import import_file
from cytotile.manifest import Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.helpers import leica_ventana, mrxsfiles, sakurafiles, slidefiles, vendors
from tests.helpers.samples import SAMPLES

ROOT = Path(__file__).resolve().parents[3]


def run_python(code: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.strip()


def vendor_files(folder: Path) -> list[Path]:
    base = vendors.tissue(512, 512)
    files = [
        vendors.write_philips(folder / "a.tiff", base),
        leica_ventana.write_scn(folder / "b.scn", base),
        leica_ventana.write_bif(folder / "c.bif", base),
        vendors.write_zstd_tiff(folder / "d.tif", base),
        vendors.write_svs_jp2k(folder / "e.svs", base),
        slidefiles.write_vms(folder / "vms", vendors.tissue(512, 384)),
        mrxsfiles.write_mrxs(folder / "mrxs", base),
        sakurafiles.write_svslide(folder / "g.svslide", base, n_levels=1),
    ]
    return files + [
        p for p in (SAMPLES / "test3-DAPI.ndpi", SAMPLES / "boxes_0.dcm") if p.is_file()
    ]


def test_detection_never_loads_openslide(tmp_path: Path) -> None:
    files = vendor_files(tmp_path)
    code = """
        import sys
        from pathlib import Path
        from cytotile.formats import detect
        ids = [detect(Path(p)).id for p in sys.argv[1:]]
        print(" ".join(ids), "openslide" in sys.modules)
    """
    ids, loaded = run_python(code, *map(str, files)).rsplit(" ", 1)
    expected = ["PHILIPS", "SCN", "BIF", "OPENSLIDETIFF", "SVS", "VMS", "MRXS", "SVSLIDE"]
    assert ids.split()[:8] == expected
    assert loaded == "False"


def test_serving_side_never_loads_openslide() -> None:
    code = """
        import sys
        import cytotile.api.app
        from cytotile.formats import describe_formats
        print(len(describe_formats()) > 0, "openslide" in sys.modules)
    """
    assert run_python(code) == "True False"


def import_scn(tmp_path: Path, name: str) -> Manifest:
    path = leica_ventana.write_scn(tmp_path / f"{name}.scn", vendors.tissue(300, 200), 2)
    return path_import(tmp_path, path)


def path_import(tmp_path: Path, path: Path) -> Manifest:
    root = tmp_path / "root"
    return import_file(LocalStorage(root), path, settings=ImportSettings(root=str(root)))


def test_undecodable_tiles_end_in_error_conversion(tmp_path: Path) -> None:
    import tifffile

    path = leica_ventana.write_scn(tmp_path / "broken.scn", vendors.tissue(300, 200), 2)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[1]  # level 0 of the scanned area
        offset, count = int(page.dataoffsets[0]), int(page.databytecounts[0])
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(bytes(count))  # the first tile is no longer JPEG
    manifest = path_import(tmp_path, path)
    assert manifest.status is Status.ERROR_CONVERSION
    assert manifest.reason is not None and "SCN level 0" in manifest.reason


@pytest.fixture
def aborting_openslide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Child processes whose OpenSlide aborts the process on the first region read, as
    OpenSlide can on a malformed file (the isolated steps inherit the environment)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os\nimport openslide\n\n"
        "openslide.OpenSlide.read_region = lambda *args, **kw: os.abort()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))


@pytest.mark.usefixtures("aborting_openslide")
def test_an_openslide_abort_ends_in_error_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = import_scn(tmp_path, "aborts")
    assert manifest.status is Status.ERROR_CONVERSION
    assert manifest.reason is not None and "SIGABRT" in manifest.reason
    monkeypatch.delenv("PYTHONPATH")
    assert import_scn(tmp_path, "fine").status is Status.DEPLOYED  # the importer goes on
