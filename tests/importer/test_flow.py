"""The import flow: statuses and events, bad input ending in ERROR_* with nothing served."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cytotile.importer.events import ImportEvent
from cytotile.importer.flow import import_file, safe_name
from cytotile.manifest import PYRAMID_NAME, Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from cytotile.tiff.reader import PyramidReader
from tests.helpers.samples import sample
from tests.helpers.synth import (
    tissue,
    write_jpeg_declaring,
    write_png_header_only,
    write_tiff_bad_ifd,
)

SETTINGS = ImportSettings(timeout_s=60, memory_mb=2048)
STEPS = ["DETECTING_FORMAT", "EXTRACTING_DATA", "CONVERTING", "DEPLOYING"]


def run(
    tmp_path: Path, path: Path, **kw: object
) -> tuple[Manifest, LocalStorage, list[ImportEvent]]:
    storage = LocalStorage(tmp_path / "root")
    events: list[ImportEvent] = []
    manifest = import_file(storage, path, settings=SETTINGS, listeners=[events.append], **kw)
    return manifest, storage, events


def test_good_image_goes_through_every_step(tmp_path: Path) -> None:
    src = tmp_path / "slide.tif"
    tissue(1500, 1100).tiffsave(str(src), tile=True, compression="jpeg")
    manifest, storage, events = run(tmp_path, src)
    assert manifest.status is Status.DEPLOYED, manifest.reason
    phases = [(e.step, e.phase) for e in events]
    assert phases[0] == ("UPLOADED", "end")
    for step in STEPS:
        assert phases.index((step, "start")) < phases.index((step, "end"))
    assert phases[-1] == ("DEPLOYED", "end")
    assert manifest.format_id == "PLANARTIFF"
    stored = Manifest.load(storage, manifest.id)
    assert stored.status is Status.DEPLOYED
    assert {f.role for f in stored.files} == {"UPLOAD", "ORIGINAL", "SPATIAL", "HISTOGRAM"}
    assert (storage.base / manifest.id / "slide.tif").read_bytes() == src.read_bytes()
    reader = PyramidReader.load(storage, f"{manifest.id}/{PYRAMID_NAME}")
    assert (reader.header.width, reader.header.height) == (1500, 1100)
    assert stored.pyramid is not None and stored.pyramid["n_tiers"] == 4


def test_format_comes_from_content_not_extension(tmp_path: Path) -> None:
    src = tmp_path / "really-a-jpeg.png"
    tissue(300, 200).jpegsave(str(src))
    manifest, _, _ = run(tmp_path, src)
    assert manifest.status is Status.DEPLOYED and manifest.format_id == "JPEG"


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, set[Status]]]:
    rng = os.urandom(64 * 1024)
    (tmp_path / "empty.tif").write_bytes(b"")
    (tmp_path / "random.bin").write_bytes(rng)
    return {
        "empty": (tmp_path / "empty.tif", {Status.ERROR_FORMAT}),
        "random": (tmp_path / "random.bin", {Status.ERROR_FORMAT}),
        "broken-ifd": (write_tiff_bad_ifd(tmp_path / "bad.tif"), {Status.ERROR_FORMAT}),
        "png-bomb": (
            write_png_header_only(tmp_path / "bomb.png", 100_000, 100_000),
            {Status.ERROR_FORMAT, Status.ERROR_CONVERSION},
        ),
        "jpeg-lying": (
            write_jpeg_declaring(tmp_path / "lying.jpg", 60_000, 60_000),
            {Status.ERROR_FORMAT, Status.ERROR_CONVERSION},
        ),
    }


@pytest.mark.parametrize("case", ["empty", "random", "broken-ifd", "png-bomb", "jpeg-lying"])
def test_bad_input_ends_in_error_with_nothing_served(tmp_path: Path, case: str) -> None:
    path, expected = _bad_inputs(tmp_path)[case]
    started = time.monotonic()
    manifest, storage, events = run(tmp_path, path)
    assert time.monotonic() - started < 20
    assert manifest.status in expected
    assert manifest.reason and len(manifest.reason) > 10
    assert not storage.exists(f"{manifest.id}/{PYRAMID_NAME}")
    assert not list(storage.list(f"{manifest.id}/processed"))
    assert Manifest.load(storage, manifest.id).status is manifest.status
    assert any(e.phase == "failure" for e in events)


def test_truncated_jpeg(tmp_path: Path) -> None:
    manifest, storage, _ = run(tmp_path, sample("truncated.jpg"))
    assert manifest.status in {Status.ERROR_FORMAT, Status.ERROR_CONVERSION}
    assert "premature end" in (manifest.reason or "") or "truncated" in (manifest.reason or "")
    assert not storage.exists(f"{manifest.id}/{PYRAMID_NAME}")


def test_memory_limit_is_an_error_not_a_crash(tmp_path: Path) -> None:
    src = tmp_path / "big.png"
    tissue(3000, 3000).pngsave(str(src), compression=1)
    storage = LocalStorage(tmp_path / "root")
    tight = ImportSettings(timeout_s=60, memory_mb=64)
    manifest = import_file(storage, src, settings=tight)
    assert manifest.status in {Status.ERROR_CONVERSION, Status.ERROR_FORMAT}
    assert manifest.reason and "memory" in manifest.reason.lower()


def test_upload_id_makes_the_import_idempotent(tmp_path: Path) -> None:
    src = tmp_path / "a.jpg"
    tissue(300, 200).jpegsave(str(src))
    storage = LocalStorage(tmp_path / "root")
    first = import_file(storage, src, settings=SETTINGS, upload_id="upload-fixed")
    again = import_file(storage, src, settings=SETTINGS, upload_id="upload-fixed")
    assert first.status is again.status is Status.DEPLOYED
    assert again.created_at == first.created_at
    assert storage.list_uploads() == ["upload-fixed"]


class FailsOnce(LocalStorage):
    """Storage refusing the first save of a DEPLOYED manifest (the flow's last write)."""

    failed = False

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        if not self.failed and key.endswith("manifest.json") and b'"DEPLOYED"' in data:
            self.failed = True
            raise OSError("storage unavailable (test)")
        super().write_bytes(key, data, content_type)


@pytest.mark.parametrize("retryable", [True, False])
def test_a_failed_last_save_is_not_deployed(tmp_path: Path, retryable: bool) -> None:
    """The final save failing while the clean-up's save succeeds: before, the clean-up saved
    the manifest as DEPLOYED with processed/ deleted (finished, never retried, nothing to
    serve); the listeners had heard DEPLOYED already."""
    src = tmp_path / "a.jpg"
    tissue(300, 200).jpegsave(str(src))
    storage = FailsOnce(tmp_path / "root")
    events: list[ImportEvent] = []
    kw = {"settings": SETTINGS, "upload_id": "upload-once", "listeners": [events.append]}
    if retryable:
        with pytest.raises(OSError, match="storage unavailable"):
            import_file(storage, src, raise_retryable=True, **kw)  # type: ignore[arg-type]
        stored = Manifest.load(storage, "upload-once")
        assert stored.status is Status.DEPLOYING and not stored.status.is_final
    else:
        stored = import_file(storage, src, **kw)  # type: ignore[arg-type]
        assert stored.status is Status.ERROR_DEPLOYMENT
        assert Manifest.load(storage, "upload-once").status is Status.ERROR_DEPLOYMENT
    assert list(storage.list("upload-once/processed")) == []
    assert "DEPLOYED" not in [e.step for e in events]
    if retryable:
        again = import_file(storage, src, raise_retryable=True, **kw)  # type: ignore[arg-type]
        assert again.status is Status.DEPLOYED
        assert storage.exists(f"upload-once/{PYRAMID_NAME}")
        assert [e.step for e in events].count("DEPLOYED") == 1


def test_safe_name() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\x\\slide 1.svs") == "slide 1.svs"
    assert safe_name("..") == "upload"
    assert safe_name("a;b|c.tif") == "a_b_c.tif"
