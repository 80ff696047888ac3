"""Headers that lie about their size are refused from the header, before any decoder runs: a
declared 100000x100000 (or a size the file's bytes cannot hold) ends in ERROR_FORMAT at once."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cytotile.errors import FormatError
from cytotile.formats import detect, format_by_id
from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.formats.pillow import writers

HUGE = 100_000


def _bmp(path: Path, side: int = HUGE) -> Path:
    writers.bmp(path, np.zeros((4, 4, 3), np.uint8), bits=24)
    data = bytearray(path.read_bytes())
    data[18:26] = struct.pack("<ii", side, side)
    path.write_bytes(bytes(data))
    return path


def _j2k(path: Path, codec: str, side: int = HUGE) -> Path:
    import imagecodecs

    data = bytearray(imagecodecs.jpeg2k_encode(np.zeros((16, 16), np.uint8), codecformat=codec))
    siz = data.index(b"\xff\x4f\xff\x51") + 2  # SIZ: marker, Lsiz, Rsiz, Xsiz, Ysiz
    data[siz + 6 : siz + 14] = struct.pack(">II", side, side)
    path.write_bytes(bytes(data))
    return path


def _webp(path: Path) -> Path:
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (HUGE - 1).to_bytes(3, "little") * 2
    body = b"WEBP" + vp8x + b"VP8L" + struct.pack("<I", 5) + b"\x2f" + bytes(4) + b"\x00"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _pgm(path: Path) -> Path:
    path.write_bytes(f"P5\n{HUGE} {HUGE}\n255\n".encode() + bytes(64))
    return path


def _gif(path: Path) -> Path:
    screen = struct.pack("<HHBBB", 65535, 65535, 0, 0, 0)
    path.write_bytes(
        b"GIF89a" + screen + b",\x00\x00\x00\x00\xff\xff\xff\xff\x00\x02\x02D\x01\x00;"
    )
    return path


CASES: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "bmp": ("BMP", _bmp),
    "bmp-fits-the-pixel-limit": ("BMP", lambda p: _bmp(p, 20_000)),
    "jp2": ("JPEG2000", lambda p: _j2k(p, "JP2")),
    "j2k": ("JPEG2000", lambda p: _j2k(p, "J2K")),
    "j2k-fits-the-pixel-limit": ("JPEG2000", lambda p: _j2k(p, "J2K", 30_000)),
    "webp": ("WEBP", _webp),
    "pgm": ("PPM", _pgm),
    "gif": ("GIF", _gif),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lying_header_is_refused_before_decoding(name: str, tmp_path: Path) -> None:
    format_id, make = CASES[name]
    path = make(tmp_path / "liar.bin")
    start = time.perf_counter()
    with pytest.raises(FormatError, match="declares"):
        detect(path)
    with pytest.raises(FormatError, match="declares"):  # open() checks again (no pixel limit)
        format_by_id(format_id).open(path)
    assert time.perf_counter() - start < 1.0


def test_a_lying_bmp_ends_in_error_format(tmp_path: Path) -> None:
    root = tmp_path / "root"
    manifest = import_file(
        LocalStorage(root), _bmp(tmp_path / "bomb.bmp"), settings=ImportSettings(root=str(root))
    )
    assert manifest.status is Status.ERROR_FORMAT
    assert manifest.reason is not None and f"{HUGE}x{HUGE}" in manifest.reason


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"BM" + bytes(12) + struct.pack("<I", 40) + bytes(8), "truncated"),
        (b"P5\n10 10\n255", "no raster"),
        (b"P2\n10\n", "width, height or maxval missing"),
        (b"RIFF\x04\x00\x00\x00WEBP", "no image chunk"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(20), "no codestream box"),
    ],
)
def test_truncated_headers_are_malformed_not_crashes(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "short.bin"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=why):
        detect(path)
