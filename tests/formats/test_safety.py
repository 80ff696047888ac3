"""Lying headers, bombs and broken files end in FormatError / ConversionError, fast."""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from cytotile.errors import ConversionError, FormatError, ImportFailure
from cytotile.formats import decoding, detect, safety
from cytotile.formats.pillow.png import PngFormat
from tests.helpers import synth
from tests.helpers.samples import sample

FAST = 2.0  # seconds


@contextmanager
def refused(kind: type[ImportFailure], match: str) -> Iterator[None]:
    start = time.monotonic()
    with pytest.raises(kind, match=match) as info:
        yield
    assert time.monotonic() - start < FAST
    reason = info.value.details
    assert reason and "\n" not in reason and "Traceback" not in reason


def test_png_declaring_100000_squared(tmp_path: Path) -> None:
    path = synth.write_png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    with refused(FormatError, "PNG declares 100000x100000"):
        detect(path)
    with refused(FormatError, "compression can reach"):  # even without a pixel limit
        PngFormat.open(path)


def test_png_bomb_under_the_pixel_limit_is_still_refused(tmp_path: Path) -> None:
    path = synth.write_png_header_only(tmp_path / "bomb.png", 20_000, 20_000)
    with refused(FormatError, "compression can reach"):
        detect(path)


def test_png_zero_width(tmp_path: Path) -> None:
    path = synth.write_png_header_only(tmp_path / "zero.png", 0, 10)
    with refused(FormatError, "empty or negative size"):
        detect(path)


def test_png_bad_header_checksum(tmp_path: Path) -> None:
    path = synth.write_png_header_only(tmp_path / "crc.png", 10, 10)
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    path.write_bytes(bytes(data))
    with refused(FormatError, "bad IHDR checksum"):
        detect(path)


def test_jpeg_declaring_more_than_its_bytes_can_hold(tmp_path: Path) -> None:
    path = synth.write_jpeg_declaring(tmp_path / "bomb.jpg", 60_000, 60_000)
    with refused(FormatError, "compression can reach"):
        detect(path)


def test_jpeg_with_thousands_of_scans(tmp_path: Path) -> None:
    path = tmp_path / "scans.jpg"
    progressive = synth.tissue(64, 64).jpegsave_buffer(interlace=True)
    path.write_bytes(progressive[:-2] + b"\xff\xda\x00\x02" * 2000 + b"\xff\xd9")
    with refused(FormatError, "scans"):
        detect(path)


def test_pixel_limit_is_configurable() -> None:
    path = sample("sample.jpg")
    assert detect(path, max_pixels=None).id == "JPEG"
    with refused(FormatError, "more than the limit of 1000"):
        detect(path, max_pixels=1000)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.touch()
    with refused(FormatError, "empty file"):
        detect(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.bin"
    path.write_bytes(random.Random(1).randbytes(1 << 20))
    with refused(FormatError, "not a supported image format"):
        detect(path)


def test_tiff_first_ifd_past_eof(tmp_path: Path) -> None:
    path = synth.write_tiff_bad_ifd(tmp_path / "bad.tif")
    with refused(FormatError, "outside the 72-byte file"):
        detect(path)


def test_tiff_truncated_data(tmp_path: Path) -> None:
    path = synth.write_tiff(tmp_path / "t.tif", np.zeros((256, 256), np.uint8), metadata=None)
    data = path.read_bytes()
    ifd = struct.unpack("<I", data[4:8])[0]
    assert ifd < 1000  # tifffile writes the directory first: cutting the end cuts pixels
    path.write_bytes(data[: len(data) // 2])
    with refused(FormatError, "truncated"):
        detect(path)


def test_tiff_lying_about_its_size(tmp_path: Path) -> None:
    path = synth.write_tiff(tmp_path / "t.tif", np.zeros((64, 64), np.uint8), metadata=None)
    data = bytearray(path.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] in (256, 257):  # width, length
            struct.pack_into("<HII", data, entry + 2, 4, 1, 60_000)
    path.write_bytes(bytes(data))
    with refused(FormatError, "TIFF page 0"):
        detect(path)


def test_check_ratio_bounds() -> None:
    safety.check_ratio(1100 * 10, 10, safety.DEFLATE_RATIO, what="x")
    with pytest.raises(FormatError):
        safety.check_ratio(1101 * 10, 10, safety.DEFLATE_RATIO, what="x")


def test_truncated_jpeg_fails_when_decoded() -> None:
    path = sample("truncated.jpg")
    source = detect(path).open(path)
    with source, refused(ConversionError, "premature end of JPEG"), decoding("truncated.jpg"):
        source.plane().avg()


@pytest.mark.parametrize("cut", [0.3, 0.7])
def test_truncated_png_fails_when_decoded(tmp_path: Path, cut: float) -> None:
    data = synth.tissue(200, 150).pngsave_buffer(compression=1)
    path = tmp_path / "cut.png"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises((ConversionError, FormatError)) as info, decoding("PNG"):
        detect(path).open(path).plane().avg()
    assert info.value.details
