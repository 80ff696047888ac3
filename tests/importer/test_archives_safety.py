"""Hostile archives through the whole import flow: each ends ERROR_EXTRACTION within seconds,
in bounded memory (the isolated step's limit), with nothing written outside the upload's folder
(and no extracted file left in it)."""

from __future__ import annotations

import dataclasses
import gzip
import os
import tarfile
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from cytotile.importer.flow import import_file
from cytotile.manifest import Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.importer import archive_builders as build

#: the default archive limits; a tight memory limit (address space) for every isolated step
SETTINGS = ImportSettings(timeout_s=30, memory_mb=512)
SECONDS = 20.0


def files_under(folder: Path) -> set[str]:
    return {
        str(Path(d, n).relative_to(folder)) for d, _, names in os.walk(folder) for n in names
    } | {str(Path(d).relative_to(folder)) for d, _, _ in os.walk(folder)}


def refused(tmp_path: Path, archive: Path, *words: str) -> Manifest:
    """Import ``archive``: it must end ERROR_EXTRACTION (its reason naming ``words``) in
    seconds, leaving nothing but the upload and its manifest."""
    root, work = tmp_path / "root", tmp_path / "work"
    work.mkdir()
    before = files_under(tmp_path)
    storage = LocalStorage(root)
    started = time.monotonic()
    manifest = import_file(
        storage, archive, settings=dataclasses.replace(SETTINGS, workdir=str(work))
    )
    elapsed = time.monotonic() - started
    assert manifest.status is Status.ERROR_EXTRACTION, (manifest.status, manifest.reason)
    assert elapsed < SECONDS, elapsed
    reason = (manifest.reason or "").lower()
    # stopped by the extraction's own checks, not by the isolated step's memory or time limit
    assert "memory" not in reason and "timed out" not in reason, reason
    for word in words:
        assert word.lower() in reason, manifest.reason
    assert manifest.children == []
    # nothing outside the upload's folder: the only new files are the root's upload and manifest
    new = files_under(tmp_path) - before
    upload = manifest.id
    expected = {
        "root",
        f"root/{upload}",
        f"root/{upload}/{manifest.original_name}",
        f"root/{upload}/manifest.json",
    }
    assert new == expected, sorted(new - expected)
    assert os.listdir(work) == []
    assert Manifest.load(storage, upload).status is Status.ERROR_EXTRACTION
    return manifest


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("../x", ["leaves"]),
        ("../../../../../../tmp/x", ["leaves"]),
        ("/etc/x", ["absolute"]),
        ("C:/x", ["absolute"]),
        ("a\\..\\..\\x", ["leaves"]),
    ],
)
def test_zip_slip_names(tmp_path: Path, name: str, words: list[str]) -> None:
    archive = build.write_zip(tmp_path / "slip.zip", {"ok.png": build.png(1), name: b"pwned"})
    outside = Path("/tmp/x")  # where the deepest name points; another program may own it
    before = outside.lstat().st_mtime_ns if outside.exists() else None
    refused(tmp_path, archive, *words)
    assert not (tmp_path / "x").exists()
    assert (outside.lstat().st_mtime_ns if outside.exists() else None) == before


def test_zip_symlink_member(tmp_path: Path) -> None:
    refused(tmp_path, build.symlink_zip(tmp_path / "link.zip"), "symbolic link")


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        (tarfile.SYMTYPE, ["symbolic link"]),
        (tarfile.LNKTYPE, ["hard link"]),
        (tarfile.CHRTYPE, ["device"]),
        (tarfile.FIFOTYPE, ["fifo"]),
    ],
)
def test_tar_links_and_devices(tmp_path: Path, kind: bytes, words: list[str]) -> None:
    info = tarfile.TarInfo("image.png")
    info.type = kind
    info.linkname = "/etc/passwd"
    refused(tmp_path, build.tar_with(tmp_path / "links.tar", info), *words)


def test_tar_slip_name(tmp_path: Path) -> None:
    archive = build.write_tar(tmp_path / "slip.tar.gz", {"../x": b"pwned"}, "w:gz")
    refused(tmp_path, archive, "leaves")


def test_zip_bomb_declared_gigabyte(tmp_path: Path) -> None:
    """1 GiB of zeros, declared honestly: refused from the central directory, before writing."""
    stream = build.zeros_deflate(1024)
    crc = 0
    archive = build.raw_zip(tmp_path / "bomb.zip", [("zeros.png", stream, build.GiB, crc)])
    assert len(stream) < 2 * build.MiB
    refused(tmp_path, archive, "bomb")


def test_zip_bomb_lying_about_its_size(tmp_path: Path) -> None:
    """1 GiB of zeros declared as 1 KiB: counted while streaming, never trusted."""
    stream = build.zeros_deflate(1024)
    crc = zlib.crc32(bytes(1024))
    archive = build.raw_zip(tmp_path / "liar.zip", [("zeros.png", stream, 1024, crc)])
    refused(tmp_path, archive)


def test_gzip_bomb(tmp_path: Path) -> None:
    refused(tmp_path, build.zeros_gzip(tmp_path / "zeros.raw.gz", 1024), "bomb")


def test_tar_gz_bomb(tmp_path: Path) -> None:
    refused(tmp_path, build.zeros_tar_gz(tmp_path / "zeros.tar.gz", 1024), "bomb")


def test_nested_bomb_42_style(tmp_path: Path) -> None:
    """Levels of ZIPs of copies of the level below, zeros at the bottom: the innermost level
    (within the depth limit) trips the ratio limit."""
    archive = build.nested_zip(tmp_path / "42.zip", depth=3, leaf=bytes(8 * build.MiB))
    refused(tmp_path, archive, "bomb")


def test_nesting_deeper_than_the_limit(tmp_path: Path) -> None:
    archive = build.nested_zip(tmp_path / "deep.zip", depth=4, leaf=b"tiny", copies=2)
    refused(tmp_path, archive, "nested more than 2 levels")


def test_overlapping_zip_entries(tmp_path: Path) -> None:
    data = zlib.compress(bytes(100_000))[2:-4]  # raw deflate
    crc = zlib.crc32(bytes(100_000))
    entries = [(f"{i}.png", data, 100_000, crc) for i in range(3)]
    archive = build.raw_zip(tmp_path / "overlap.zip", entries, share_data=True)
    refused(tmp_path, archive, "overlap")


def test_zip_bad_crc(tmp_path: Path) -> None:
    data = build.png(2)
    entries = [("a.png", data, len(data), zlib.crc32(data) ^ 1)]
    archive = build.raw_zip(tmp_path / "crc.zip", entries, method=zipfile.ZIP_STORED)
    refused(tmp_path, archive, "crc")


@pytest.mark.parametrize("member_index", [0, 1, 2])
def test_tar_bad_header_checksum(tmp_path: Path, member_index: int) -> None:
    """Python's tarfile stops quietly at a bad checksum after the first member; cytotile
    refuses the archive whichever header is corrupt."""
    members = {f"{i}.png": build.png(i, 40, 30) for i in range(3)}
    archive = build.write_tar(tmp_path / "bad.tar", members)
    build.corrupt_tar_checksum(archive, member_index)
    refused(tmp_path, archive, "checksum")


@pytest.mark.parametrize("name", ["cut.zip", "cut.tar", "cut.tar.gz", "cut.gz"])
def test_truncated_archives(tmp_path: Path, name: str) -> None:
    members = {f"{i}.png": build.png(i) for i in range(3)}
    full = tmp_path / f"full-{name}"
    if name.endswith(".zip"):
        build.write_zip(full, members)
    elif name == "cut.gz":
        import gzip

        full.write_bytes(gzip.compress(build.png(5, 600, 400)))
    else:
        build.write_tar(full, members, "w:gz" if name.endswith(".gz") else "w")
    data = full.read_bytes()
    full.unlink()
    archive = tmp_path / name
    archive.write_bytes(data[: len(data) // 2])
    refused(tmp_path, archive)


def test_a_megabyte_of_zeros_is_not_a_tar(tmp_path: Path) -> None:
    zeros = tmp_path / "zeros.tar"
    zeros.write_bytes(bytes(build.MiB))
    assert tarfile.is_tarfile(zeros)  # what the standard library says
    manifest = import_file(LocalStorage(tmp_path / "root"), zeros, settings=SETTINGS)
    assert manifest.status is Status.ERROR_FORMAT, manifest.reason


def test_zip_bomb_of_many_members_each_below_the_ratio_floor(tmp_path: Path) -> None:
    """64 members of 1 MiB of zeros (each too small for its own ratio to be judged): refused
    from the central directory by the upload's ratio, before anything is written."""
    stream, crc = build.zeros_deflate(1), zlib.crc32(bytes(build.MiB))
    entries = [(f"z/{i}.png", stream, build.MiB, crc) for i in range(64)]
    archive = build.raw_zip(tmp_path / "many.zip", entries)
    assert archive.stat().st_size * 200 < 64 * build.MiB
    refused(tmp_path, archive, "declares", "bomb")


def test_bomb_of_nested_small_streams(tmp_path: Path) -> None:
    """A tar of 64 .gz files of 1 MiB of zeros: no member declares a size and no stream is
    large enough for its own ratio; the bytes written, against the upload's size, stop it."""
    gz = gzip.compress(bytes(build.MiB))
    archive = build.write_tar(tmp_path / "many.tar", {f"{i}.raw.gz": gz for i in range(64)})
    assert archive.stat().st_size * 200 < 64 * build.MiB
    refused(tmp_path, archive, "unpacks to", "bomb")
