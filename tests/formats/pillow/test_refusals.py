"""What is recognised but not imported ends in ERROR_* with a reason naming it: video (the MP4
sample), Olympus VSI/ETS, HEIF, SVG, text; a truncated JPEG fails its conversion."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from cytotile.errors import FormatError
from cytotile.formats import detect, format_by_id
from cytotile.formats.refused import video
from cytotile.importer.flow import import_file
from cytotile.manifest import Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.samples import sample


def _import(path: Path, root: Path) -> Manifest:
    return import_file(LocalStorage(root), path, settings=ImportSettings(root=str(root)))


def _mp4(path: Path, codec: bytes) -> Path:
    """A minimal ISO media file: ftyp and moov/trak/mdia/minf/stbl/stsd with one sample entry."""

    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", 8 + len(body)) + kind + body

    stsd = box(b"stsd", bytes(4) + struct.pack(">I", 1) + box(codec, bytes(78)))
    moov = box(b"moov", box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", stsd)))))
    path.write_bytes(box(b"ftyp", b"isom" + bytes(4) + b"isomavc1") + moov + box(b"mdat", b""))
    return path


def test_the_mp4_sample_is_refused_naming_mp4_and_h264(tmp_path: Path) -> None:
    manifest = _import(sample("fixture-imovie.mp4"), tmp_path)
    assert manifest.status is Status.ERROR_FORMAT
    assert manifest.format_id == "MP4"
    assert manifest.reason is not None
    assert "MP4 video" in manifest.reason and "H.264 ('avc1')" in manifest.reason
    assert "not supported" in manifest.reason


@pytest.mark.parametrize(("codec", "named"), [(b"hvc1", "H.265/HEVC"), (b"av01", "AV1")])
def test_video_codec_is_named_from_the_sample_description(
    tmp_path: Path, codec: bytes, named: str
) -> None:
    path = _mp4(tmp_path / "clip.bin", codec)
    assert video.codecs(path) == [codec.decode()]
    fmt = detect(path)
    assert fmt.id == "MP4" and not fmt.importable
    with pytest.raises(FormatError, match=named):
        fmt.open(path)


def test_other_video_containers_are_named(tmp_path: Path) -> None:
    avi = tmp_path / "a.bin"
    avi.write_bytes(b"RIFF" + bytes(4) + b"AVI LIST" + bytes(100))
    mkv = tmp_path / "b.bin"
    mkv.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(8) + b"webm" + bytes(100))
    for path, what in ((avi, "AVI video"), (mkv, "WebM video")):
        with pytest.raises(FormatError, match=what):
            detect(path).open(path)


def _vsi(path: Path) -> Path:
    """A VSI's start: a little-endian TIFF header, then cellSens' own volume header at byte 8."""
    volume = struct.pack("<HHiqII", 24, 21321, 1, 24, 0, 0)
    tags = [(256, 3, 8), (257, 3, 8), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 256)]
    tags += [(277, 3, 1), (278, 3, 8), (279, 4, 64)]  # an 8x8 grey overview, uncompressed
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHII", *t[:2], 1, t[2]) for t in tags
    )
    head = b"II*\x00" + struct.pack("<I", 64) + volume
    data = head.ljust(64, b"\x00") + ifd + struct.pack("<I", 0)
    path.write_bytes(data.ljust(256, b"\x00") + bytes(range(64)))
    return path


def test_vsi_is_refused_by_name_before_the_tiff_formats(tmp_path: Path) -> None:
    manifest = _import(_vsi(tmp_path / "slide.tif"), tmp_path / "root")
    assert manifest.status is Status.ERROR_FORMAT
    assert manifest.format_id == "VSI"
    assert manifest.reason is not None and "VSI is not supported" in manifest.reason
    assert format_by_id("VSI").order < format_by_id("PLANARTIFF").order


def test_ets_pixels_of_a_vsi_are_named(tmp_path: Path) -> None:
    ets = tmp_path / "frame_t.ets"
    ets.write_bytes(b"SIS\x00" + struct.pack("<iii", 64, 2, 4) + bytes(48) + b"ETS\x00" + bytes(64))
    with pytest.raises(FormatError, match=r"ETS file .*VSI"):
        detect(ets).open(ets)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIF"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "AVIF"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG vector"),
        (b"patient,slide,score\n1,A,3\n", "a text file"),
    ],
)
def test_recognisable_unsupported_content_is_named(
    tmp_path: Path, content: bytes, named: str
) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    with pytest.raises(FormatError, match="not a supported image format") as info:
        detect(path)
    assert named in info.value.details


def test_truncated_jpeg_sample_fails_its_conversion_naming_jpeg(tmp_path: Path) -> None:
    manifest = _import(sample("truncated.jpg"), tmp_path)
    assert manifest.status is Status.ERROR_CONVERSION
    assert manifest.format_id == "JPEG"
    assert manifest.reason is not None and "JPEG" in manifest.reason
