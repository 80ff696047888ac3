"""The extraction code itself, in this process (fast): detection by content, names, the strict
tar reader, ZIP checks, every limit, nesting in place."""

from __future__ import annotations

import io
import lzma
import tarfile
import zipfile
from pathlib import Path

import pytest

from cytotile.errors import ExtractionError
from cytotile.importer import archives_tar
from cytotile.importer.archives import Limits, member_parts, sniff_archive, tar_header_ok
from cytotile.importer.archives_extract import unpack
from tests.importer import archive_builders as build

LIMITS = Limits(
    max_bytes=64 * build.MiB,
    max_member_bytes=32 * build.MiB,
    max_ratio=200.0,
    max_members=100,
    max_depth=2,
)


def extract(path: Path, kind: str, out: Path, limits: Limits = LIMITS) -> dict[str, int]:
    report = unpack(path, kind, out, limits, path.name)
    return {f["path"]: f["size"] for f in report["files"]}


def tar_bytes(members: dict[str, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_detection_by_content() -> None:
    assert sniff_archive(b"PK\x03\x04" + bytes(600)) == "zip"
    assert sniff_archive(b"PK\x05\x06" + bytes(18)) == "zip"  # an empty ZIP
    assert sniff_archive(b"\x1f\x8b\x08" + bytes(600)) == "gzip"
    assert sniff_archive(b"BZh9" + bytes(600)) == "bzip2"
    assert sniff_archive(lzma.compress(b"x")) == "xz"
    assert sniff_archive(tar_bytes({"a": b"1"})) == "tar"
    assert sniff_archive(tar_bytes({"a": b"1"}, tarfile.GNU_FORMAT)) == "tar"
    assert sniff_archive(bytes(2048)) is None  # zeros: not a tar
    assert sniff_archive(b"BZh" + bytes(600)) is None  # no block size: not bzip2
    assert sniff_archive(b"\x89PNG\r\n\x1a\n" + bytes(600)) is None
    assert not tar_header_ok(bytes(512))


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a/b.png", ["a", "b.png"]),
        ("./a//b.png", ["a", "b.png"]),
        ("dir\\sub\\x.tif", ["dir", "sub", "x.tif"]),
        ("we?ird*name|.png", ["we_ird_name_.png"]),
        ("...", ["..."]),
    ],
)
def test_member_names_are_sanitized(name: str, parts: list[str]) -> None:
    assert member_parts(name) == parts


@pytest.mark.parametrize(
    "name", ["../x", "a/../../x", "/etc/x", "\\x", "C:x", "c:\\x", "a/\x00b", "", "./", " .. /x"]
)
def test_unsafe_member_names_are_refused(name: str) -> None:
    with pytest.raises(ExtractionError):
        member_parts(name)


def test_tar_long_names_pax_and_gnu(tmp_path: Path) -> None:
    long = "/".join(["folder" * 12] * 3) + "/image.png"  # > 100 characters
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        archive = tmp_path / f"long{fmt}.tar"
        archive.write_bytes(tar_bytes({long: b"pixels", "short.txt": b"t"}, fmt))
        assert extract(archive, "tar", tmp_path / f"out{fmt}") == {long: 6, "short.txt": 1}


def test_tar_reader_refuses_a_bad_checksum_anywhere() -> None:
    data = bytearray(tar_bytes({"a": b"1" * 600, "b": b"2", "c": b"3"}, tarfile.USTAR_FORMAT))
    data[512 * 3] ^= 1  # the second member's header (after a's header and 2 blocks of data)
    read = []
    with pytest.raises(ExtractionError, match="checksum at offset 1536"):
        for member in archives_tar.members(io.BytesIO(bytes(data))):
            read.append((member.name, member.data.read(1 << 20)))
    assert read == [("a", b"1" * 600)]


def test_tar_without_its_end_is_truncated() -> None:
    data = tar_bytes({"a": b"1"}, tarfile.USTAR_FORMAT)
    with pytest.raises(ExtractionError, match="truncated"):
        list(archives_tar.members(io.BytesIO(data[:1024])))  # header + data, no end block


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compressed_tars(tmp_path: Path, mode: str) -> None:
    archive = build.write_tar(tmp_path / "a.tar", {"x/1.png": b"one", "2.png": b"two"}, mode)
    kind = {"w:gz": "gzip", "w:bz2": "bzip2", "w:xz": "xz"}[mode]
    assert extract(archive, kind, tmp_path / "out") == {"x/1.png": 3, "2.png": 3}


def test_single_compressed_file_takes_its_recorded_name(tmp_path: Path) -> None:
    import gzip

    archive = tmp_path / "upload.bin"
    with archive.open("wb") as raw, gzip.GzipFile("../../slide.svs", "wb", fileobj=raw) as gz:
        gz.write(b"content")
    report = unpack(archive, "gzip", tmp_path / "out", LIMITS, "upload.bin")
    assert report["single"] == "slide.svs"
    archive.write_bytes(lzma.compress(b"content"))
    assert unpack(archive, "xz", tmp_path / "xz", LIMITS, "scan.tif.xz")["single"] == "scan.tif"


def test_limits(tmp_path: Path) -> None:
    many = build.write_zip(tmp_path / "many.zip", {f"{i}.txt": b"x" for i in range(101)})
    with pytest.raises(ExtractionError, match="more than 100 members"):
        extract(many, "zip", tmp_path / "many")
    big = tmp_path / "big.tar"
    big.write_bytes(tar_bytes({"a": bytes(2 * build.MiB)}))
    small = Limits(4 * build.MiB, build.MiB, 200.0, 100, 2)
    with pytest.raises(ExtractionError, match="declares 2 MiB"):  # refused from its header
        extract(big, "tar", tmp_path / "big", small)
    liar = tmp_path / "liar.zip"  # a ZIP member declaring less than it holds: counted
    build.raw_zip(liar, [("a", build.zeros_deflate(2), 1000, 0)])
    with pytest.raises(ExtractionError, match="larger than the limit"):
        extract(liar, "zip", tmp_path / "liar", Limits(4 * build.MiB, build.MiB, 1e6, 100, 2))
    total = tmp_path / "total.tar"
    total.write_bytes(tar_bytes({f"{i}": bytes(build.MiB) for i in range(5)}))
    with pytest.raises(ExtractionError, match="more than the limit"):
        extract(total, "tar", tmp_path / "total", small)


def test_conflicting_members(tmp_path: Path) -> None:
    twice = tmp_path / "twice.tar"
    twice.write_bytes(tar_bytes({"a.png": b"1", "./a.png": b"2"}))
    with pytest.raises(ExtractionError, match="twice"):
        extract(twice, "tar", tmp_path / "twice")
    clash = tmp_path / "clash.tar"
    clash.write_bytes(tar_bytes({"a": b"file", "a/b.png": b"in a folder"}))
    with pytest.raises(ExtractionError, match="both a file and a folder"):
        extract(clash, "tar", tmp_path / "clash")
    sanitized = build.write_zip(tmp_path / "same.zip", {"a?.png": b"1", "a*.png": b"2"})
    with pytest.raises(ExtractionError, match="twice"):
        extract(sanitized, "zip", tmp_path / "same")


def test_nested_archives_are_extracted_in_place(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep/img.png", b"png")
    archive = tmp_path / "outer.tar"
    archive.write_bytes(tar_bytes({"inner.zip": inner.getvalue(), "top.png": b"top"}))
    assert extract(archive, "tar", tmp_path / "out") == {
        "inner.zip/deep/img.png": 3,
        "top.png": 3,
    }


def test_extraction_needs_a_new_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_bytes(b"x")
    archive = build.write_zip(tmp_path / "a.zip", {"a.png": b"1"})
    with pytest.raises(ExtractionError, match="not a new folder"):
        extract(archive, "zip", out)


def test_unsupported_zip_members(tmp_path: Path) -> None:
    archive = tmp_path / "lzma.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_LZMA) as zf:
        zf.writestr("a.png", b"x" * 100)
    with pytest.raises(ExtractionError, match="not supported"):
        extract(archive, "zip", tmp_path / "lzma")
    stored = build.raw_zip(tmp_path / "long.zip", [("a.png", b"abcdef", 3, 0)], method=0)
    with pytest.raises(ExtractionError):
        extract(stored, "zip", tmp_path / "long")


@pytest.mark.parametrize("kind", [0o010000, 0o020000, 0o060000, 0o140000])  # FIFO, devices, socket
def test_zip_special_files_are_refused(tmp_path: Path, kind: int) -> None:
    info = zipfile.ZipInfo("a.png")
    info.create_system = 3
    info.external_attr = (kind | 0o644) << 16
    archive = tmp_path / "special.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, b"x")
    with pytest.raises(ExtractionError, match="device, FIFO or socket"):
        extract(archive, "zip", tmp_path / "special")
    assert not (tmp_path / "special" / "a.png").exists()
