"""Archives through the import flow: collections (one child upload per image), multi-file images
(a format with ``multi_file``: a fake one registered as a plugin, and DICOM once registered),
compressed single files, nested archives."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from cytotile.importer.archives import child_upload_id
from cytotile.importer.flow import import_file
from cytotile.manifest import Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.samples import sample
from tests.helpers.synth import tissue
from tests.importer import archive_builders as build

SETTINGS = ImportSettings(timeout_s=60, memory_mb=2048)


def uploads(storage: LocalStorage) -> dict[str, Manifest]:
    return {u: Manifest.load(storage, u) for u in storage.list_uploads()}


def test_zip_of_three_images_is_a_collection(tmp_path: Path) -> None:
    archive = build.write_zip(
        tmp_path / "batch.zip",
        {
            "a.png": build.png(1),
            "scans/b.jpg": build.jpeg(2, 400, 300),
            "scans/c.png": build.png(3, 120, 90),
            "notes.txt": b"not an image\n",
            "__MACOSX/scans/._b.jpg": b"\x00\x05\x16\x07",
        },
    )
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, archive, settings=SETTINGS)
    assert parent.status is Status.EXTRACTED, parent.reason
    everything = uploads(storage)
    assert len(everything) == 4
    children = {c["path"]: c for c in parent.children}
    assert sorted(children) == ["a.png", "scans/b.jpg", "scans/c.png"]
    for path, child in children.items():
        assert child["status"] == "DEPLOYED"
        assert child["id"] == child_upload_id(parent.id, path)
        stored = everything[child["id"]]
        assert stored.status is Status.DEPLOYED and stored.parent == parent.id
        assert stored.original_name == path.rsplit("/", 1)[-1]
        original = stored.file("ORIGINAL")
        assert original is not None and original.key == f"{parent.id}/extracted/{path}"
        assert (storage.base / original.key).is_file()
    b = everything[children["scans/b.jpg"]["id"]]
    assert (b.format_id, b.image and b.image["width"]) == ("JPEG", 400)
    # what is not an image is reported, not imported, and does not fail the archive
    assert parent.archive is not None and parent.archive["kind"] == "zip"
    skipped = {s["path"]: s["reason"] for s in parent.archive["skipped"]}
    assert set(skipped) == {"notes.txt", "__MACOSX/scans/._b.jpg"}
    assert "text" in skipped["notes.txt"]
    steps = [(e["step"], e["phase"]) for e in parent.history]
    assert steps[-3:] == [("EXTRACTING_DATA", "start"), ("EXTRACTING_DATA", "end"),
                          ("EXTRACTED", "end")]  # fmt: skip
    assert Manifest.load(storage, parent.id).children == parent.children


def test_nested_archive_members_become_children(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep.png", build.png(4))
    archive = build.write_tar(
        tmp_path / "outer.tar.bz2", {"top.png": build.png(5), "inner.zip": inner.getvalue()},
        "w:bz2",
    )  # fmt: skip
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, archive, settings=SETTINGS)
    assert parent.status is Status.EXTRACTED, parent.reason
    assert sorted(c["path"] for c in parent.children) == ["inner.zip/deep.png", "top.png"]
    assert all(c["status"] == "DEPLOYED" for c in parent.children)


def test_tar_gz_of_one_slide(tmp_path: Path) -> None:
    slide = tmp_path / "slide.tif"
    tissue(900, 700).tiffsave(str(slide), tile=True, pyramid=True, compression="jpeg")
    archive = build.write_tar(tmp_path / "slide.tar.gz", {"slide.tif": slide.read_bytes()},
                              "w:gz")  # fmt: skip
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, archive, settings=SETTINGS)
    assert parent.status is Status.EXTRACTED, parent.reason
    (child,) = parent.children
    deployed = Manifest.load(storage, child["id"])
    assert deployed.status is Status.DEPLOYED, deployed.reason
    assert deployed.format_id == "PYRTIFF"
    assert deployed.image is not None and deployed.image["width"] == 900


def test_gz_of_one_file_is_that_image(tmp_path: Path) -> None:
    archive = tmp_path / "photo.png.gz"
    archive.write_bytes(gzip.compress(build.png(6, 500, 300)))
    storage = LocalStorage(tmp_path / "root")
    manifest = import_file(storage, archive, settings=SETTINGS)
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert manifest.format_id == "PNG" and manifest.children == []
    assert manifest.image is not None and manifest.image["width"] == 500
    original = manifest.file("ORIGINAL")
    assert original is not None and original.key == f"{manifest.id}/extracted/photo.png"
    assert len(uploads(storage)) == 1


def test_gz_of_a_non_image(tmp_path: Path) -> None:
    archive = tmp_path / "notes.txt.gz"
    archive.write_bytes(gzip.compress(b"hello\n" * 100))
    manifest = import_file(LocalStorage(tmp_path / "root"), archive, settings=SETTINGS)
    assert manifest.status is Status.ERROR_FORMAT
    assert "notes.txt" in (manifest.reason or "")


def test_archive_without_images(tmp_path: Path) -> None:
    archive = build.write_zip(tmp_path / "docs.zip", {"a.txt": b"x", "b.csv": b"1,2\n"})
    storage = LocalStorage(tmp_path / "root")
    manifest = import_file(storage, archive, settings=SETTINGS)
    assert manifest.status is Status.ERROR_FORMAT
    assert "no image" in (manifest.reason or "")
    assert not (storage.base / manifest.id / "extracted").exists()


FAKE_FORMAT = """
    from cytotile.formats.base import ORDER_VENDOR, Format
    from cytotile.formats.common import VipsSource, base_metadata


    class FakeMultiFormat(Format):
        '''An index file naming the image file beside it (tests only).'''

        id = "FAKEMULTI"
        name = "Fake multi-file slide"
        order = ORDER_VENDOR + 95
        multi_file = True

        @classmethod
        def match(cls, path, head):
            return head.startswith(b"FAKEMULTI\\n")

        @classmethod
        def open(cls, path):
            import pyvips

            part = path.parent / path.read_text().splitlines()[1]
            image = pyvips.Image.new_from_file(str(part))
            metadata = base_metadata(cls.id, image.width, image.height, image.bands, "uint8")
            return VipsSource(
                metadata, lambda: pyvips.Image.new_from_file(str(part), access="sequential")
            )
"""


@pytest.fixture
def fake_multi_file_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin package (module + dist-info with a ``cytotile.formats`` entry point) on the
    isolated steps' path: registered the way an outside package registers a format."""
    site = tmp_path / "plugins"
    site.mkdir()
    (site / "fakemulti.py").write_text(textwrap.dedent(FAKE_FORMAT))
    info = site / "fakemulti-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakemulti\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[cytotile.formats]\nfakemulti = fakemulti:FakeMultiFormat\n"
    )
    old = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), old) if p))


@pytest.mark.usefixtures("fake_multi_file_format")
def test_multi_file_image_is_one_upload(tmp_path: Path) -> None:
    archive = build.write_zip(
        tmp_path / "slide.zip",
        {
            "slide.fake": b"FAKEMULTI\nslide/level0.png\n",
            "slide/level0.png": build.png(7, 640, 480),
            "slide/overview.png": build.png(8, 64, 48),
        },
    )
    storage = LocalStorage(tmp_path / "root")
    manifest = import_file(storage, archive, settings=SETTINGS)
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert manifest.format_id == "FAKEMULTI" and manifest.children == []
    assert manifest.image is not None and manifest.image["width"] == 640
    original = manifest.file("ORIGINAL")
    assert original is not None and original.key == f"{manifest.id}/extracted/slide.fake"
    kept = storage.base / manifest.id / "extracted" / "slide"
    assert sorted(p.name for p in kept.iterdir()) == ["level0.png", "overview.png"]
    assert len(uploads(storage)) == 1
    assert manifest.archive is not None and manifest.archive["image"] == "slide.fake"


@pytest.mark.usefixtures("fake_multi_file_format")
def test_two_multi_file_images_in_one_archive(tmp_path: Path) -> None:
    archive = build.write_zip(
        tmp_path / "two.zip",
        {
            "a.fake": b"FAKEMULTI\na/0.png\n",
            "a/0.png": build.png(1, 64, 64),
            "b/b.fake": b"FAKEMULTI\n0.png\n",
            "b/0.png": build.png(2, 64, 64),
        },
    )
    manifest = import_file(LocalStorage(tmp_path / "root"), archive, settings=SETTINGS)
    assert manifest.status is Status.ERROR_FORMAT
    assert "several multi-file images" in (manifest.reason or "")


def test_zip_of_a_dicom_series_is_one_image(tmp_path: Path) -> None:
    from cytotile.formats import registered

    first, second = sample("boxes_0.dcm"), sample("boxes_1.dcm")
    head = first.read_bytes()[:4096]
    dicom = [f for f in registered() if f.multi_file and f.match(first, head)]
    if not dicom:
        pytest.skip("no multi-file DICOM format is registered yet")
    archive = build.write_zip(
        tmp_path / "series.zip",
        {"series/boxes_0.dcm": first.read_bytes(), "series/boxes_1.dcm": second.read_bytes()},
    )
    storage = LocalStorage(tmp_path / "root")
    manifest = import_file(storage, archive, settings=SETTINGS)
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert manifest.format_id == dicom[0].id and manifest.children == []
    assert len(uploads(storage)) == 1


def test_tar_gz_of_a_real_slide(tmp_path: Path) -> None:
    slide = sample("CMU-1-Small-Region.svs")
    archive = tmp_path / "cmu.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(slide, arcname="slides/CMU-1-Small-Region.svs")
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, archive, settings=SETTINGS)
    assert parent.status is Status.EXTRACTED, parent.reason
    (child,) = parent.children
    deployed = Manifest.load(storage, child["id"])
    assert deployed.status is Status.DEPLOYED, deployed.reason
    assert deployed.format_id == "SVS"
    assert deployed.image is not None and deployed.image["width"] == 2220
