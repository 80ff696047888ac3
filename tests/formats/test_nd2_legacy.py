"""Legacy ND2 (NIS-Elements before 3.0, JPEG 2000-based) is recognised by its content and
refused with ERROR_FORMAT naming it, never imported as the plain JP2 it starts like.

The synthesized file has the legacy layout the nd2 package reads: the JP2 signature box,
``ftyp``, ``jp2h`` (``ihdr``), ND2's boxes (an XML metadata box, a frame's J2K codestream), then
the box map (count, 16-byte entries) and its 40-byte trailer."""

from __future__ import annotations

import struct
from pathlib import Path

import imagecodecs
import nd2
import numpy as np
import pytest

from cytotile.errors import FormatError
from cytotile.formats import detect, format_by_id
from cytotile.formats.pillow.jpeg2000 import Jpeg2000Format
from cytotile.formats.refused.nd2legacy import MAP_SIGNATURE
from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage


def _box(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(data), kind) + data


def _jp2_boxes(frame: np.ndarray) -> tuple[bytearray, list[tuple[bytes, bytes, int]]]:
    """A valid JP2 whose codestream is ``frame``, and the ND box-map entries of its boxes."""
    height, width = frame.shape
    bits = frame.dtype.itemsize * 8
    out = bytearray(_box(b"jP  ", b"\r\n\x87\n"))
    entries = [(b"jP  ", b"jP  ", 0), (b"ftyp", b"ftyp", len(out))]
    out += _box(b"ftyp", b"jp2 " + struct.pack(">I", 0) + b"jp2 ")
    ihdr = _box(b"ihdr", struct.pack(">IIHBBBB", height, width, 1, bits - 1, 7, 0, 0))
    entries.append((b"jp2h", b"jp2h", len(out)))
    out += _box(b"jp2h", ihdr)
    xml = b'<?xml version="1.0"?><variant version="1.0"><no_name runtype="x"/></variant>'
    entries.append((b"xml ", b"VIMD", len(out)))
    out += _box(b"xml ", xml)
    entries.append((b"jp2c", b"LUNK", len(out)))
    out += _box(b"jp2c", imagecodecs.jpeg2k_encode(frame, level=0, codecformat="J2K"))
    return out, entries


def _legacy_nd2(path: Path, frame: np.ndarray) -> Path:
    out, entries = _jp2_boxes(frame)
    table = struct.pack(">I", len(entries))
    table += b"".join(struct.pack("<4s4sI", *entry) for entry in entries)
    out += table + struct.pack("<32sQ", MAP_SIGNATURE, len(table) + 40)
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def frame() -> np.ndarray:
    return (np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 37).astype(np.uint16)


def test_the_synthesized_file_is_a_legacy_nd2_and_a_valid_jp2(
    tmp_path: Path, frame: np.ndarray
) -> None:
    path = _legacy_nd2(tmp_path / "old.nd2", frame)
    with nd2.ND2File(str(path)) as nd2file:  # the nd2 package takes it for a legacy ND2
        assert nd2file.is_legacy
    # ...and on its own, the JPEG 2000 format would take it for a JP2 of the first codestream:
    # the case detection must prevent
    assert Jpeg2000Format.match(path, path.read_bytes()[:4096])
    source = Jpeg2000Format.open(path)
    assert (source.metadata.width, source.metadata.height) == (32, 24)


def test_legacy_nd2_is_detected_by_content_and_refused(tmp_path: Path, frame: np.ndarray) -> None:
    path = _legacy_nd2(tmp_path / "upload.jp2", frame)  # the name plays no part
    fmt = detect(path)
    assert fmt.id == "ND2LEGACY" and not fmt.importable
    assert fmt.order < format_by_id("JPEG2000").order
    with pytest.raises(FormatError, match="legacy ND2 is not supported"):
        fmt.open(path)


def test_legacy_nd2_import_ends_in_error_format_naming_it(
    tmp_path: Path, frame: np.ndarray
) -> None:
    path = _legacy_nd2(tmp_path / "old.nd2", frame)
    root = tmp_path / "root"
    manifest = import_file(LocalStorage(root), path, settings=ImportSettings(root=str(root)))
    assert manifest.status is Status.ERROR_FORMAT
    assert manifest.format_id == "ND2LEGACY"
    assert manifest.reason is not None and "legacy ND2" in manifest.reason


def test_a_plain_jp2_is_still_jpeg2000(tmp_path: Path, frame: np.ndarray) -> None:
    """The same boxes without the ND box map, or with a trailer pointing outside the file."""
    out, _ = _jp2_boxes(frame)
    plain = tmp_path / "plain.jp2"
    plain.write_bytes(bytes(out))
    assert detect(plain).id == "JPEG2000"
    assert np.array_equal(imagecodecs.jpeg2k_decode(plain.read_bytes()), frame)
    bogus = tmp_path / "bogus.jp2"
    bogus.write_bytes(bytes(out) + struct.pack("<32sQ", MAP_SIGNATURE, 1 << 40))
    assert detect(bogus).id == "JPEG2000"
