"""Format detection: by content only, first match in registry order, human reasons otherwise."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cytotile.errors import FormatError
from cytotile.formats import describe_formats, detect, format_by_id, registered, sniff
from tests.helpers import synth
from tests.helpers.samples import sample

SUPPORTED = {
    "CMU-1-Small-Region.svs": "SVS",
    "small.svs": "SVS",
    "boxes.tiff": "PYRTIFF",
    "sample.png": "PNG",
    "rgba.png": "PNG",
    "indexed.png": "PNG",
    "sample.jpg": "JPEG",
    "truncated.jpg": "JPEG",  # its header is fine: decoding fails (see test_safety)
    "libvips_sample.tif": "PLANARTIFF",
    "chessboard_GRAY_U16.tif": "PLANARTIFF",
    "CH1_16bit.tif": "IMAGEJTIFF",
    "fixture-bali.tif": "PLANARTIFF",
    "subsampled.tif": "PLANARTIFF",
    "1bit.tif": "PLANARTIFF",
    "_blobs_3d_fiji_skeleton.tif": "IMAGEJTIFF",
    "CellDivision_T3_Z5_CH2_X240_Y170.czi": "CZI",
    "multi-channel-z-series.ome.tif": "OMETIFF",
    "viv-multi-channel.ome.tif": "OMETIFF",
    "1.webp": "WEBP",
    "fixture.webp": "WEBP",
    "fixture.bmp": "BMP",
    "small.bmp": "BMP",
    "fixture.jp2": "JPEG2000",
    "world.jp2": "JPEG2000",
    "Bretagne2_4.j2k": "JPEG2000",
    "hopper_8bit.pgm": "PPM",
    "hopper_16bit.pgm": "PPM",
    "fixture-imovie.mp4": "MP4",  # detected to be refused with a reason (tests/formats/pillow)
    "boxes_0.dcm": "DICOM",
    "boxes_1.dcm": "DICOM",
    "test3-DAPI.ndpi": "NDPI",
    "multipage_rgb.tif": "FLOATTIFF",
    "ojpeg-tile.tif": "OJPEGTIFF",
}


@pytest.mark.parametrize(("name", "format_id"), sorted(SUPPORTED.items()))
def test_detects_supported_samples(name: str, format_id: str) -> None:
    assert detect(sample(name)).id == format_id


def test_every_sample_is_expected() -> None:
    """Every real sample is detected here; its import is checked elsewhere: pixel truth
    (tests/formats/conformance, tests/formats/test_microscopy.py, tests/test_pixel_truth.py) or
    its ERROR_* reason (truncated.jpg: tests/importer/test_flow.py; the MP4:
    tests/formats/pillow/test_refusals.py)."""
    from tests.helpers.samples import SAMPLES

    if not SAMPLES.is_dir():
        pytest.skip(f"no samples at {SAMPLES}")
    files = {p.name for p in SAMPLES.iterdir() if p.is_file()} - {"README.md", "SHA256SUMS"}
    assert sorted(files - set(SUPPORTED)) == []


def test_refuses_a_grey_old_style_jpeg_with_a_reason(tmp_path: Path) -> None:
    from tests.helpers.ojpegfiles import write_ojpeg

    grey = write_ojpeg(tmp_path / "g.tif", np.full((16, 24), 90, np.uint8))
    with pytest.raises(FormatError, match="supported") as info:
        detect(grey)
    assert "old-style JPEG compression (6) is only supported for 8-bit YCbCr" in info.value.details


def test_extension_is_ignored(tmp_path: Path) -> None:
    jpeg = tmp_path / "photo.png"
    jpeg.write_bytes(synth.tissue(64, 48).jpegsave_buffer())
    png = tmp_path / "scan.jpg"
    png.write_bytes(synth.tissue(64, 48).pngsave_buffer())
    tiff = synth.write_tiff(tmp_path / "slide.svs", np.zeros((32, 32), np.uint8))
    assert detect(jpeg).id == "JPEG"
    assert detect(png).id == "PNG"
    assert detect(tiff).id == "PLANARTIFF"


def test_synthetic_pyramid_and_single_tiled_page(tmp_path: Path) -> None:
    image = synth.tissue(300, 200)
    pyramid = synth.write_pyramidal_tiff(tmp_path / "p.tif", image, tile=64)
    tiled = tmp_path / "t.tif"
    image.tiffsave(str(tiled), tile=True, tile_width=64, tile_height=64)
    assert detect(pyramid).id == "PYRTIFF"
    assert detect(tiled).id == "PLANARTIFF"


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(FormatError, match="empty file"):
        detect(empty)


def test_random_bytes(tmp_path: Path) -> None:
    noise = tmp_path / "noise.tif"
    noise.write_bytes(b"\x00\x01" + random.Random(7).randbytes(10_000))
    with pytest.raises(FormatError, match="not a supported image format"):
        detect(noise)


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"\x00\x00\x00\x1cftypisom", "MP4"),
        (b"\x00\x00\x00\x1cftypavif", "AVIF"),
        (b"PK\x03\x04rest", "a ZIP archive"),
        (bytes(128) + b"DICM", "DICOM"),
        (b"P5\n128 128\n255\n", "Netpbm (PGM/PPM)"),
        (b"GIF89a", "GIF"),
        (b"\x89\x17\xfe", None),
    ],
)
def test_sniff_names_known_content(head: bytes, what: str | None) -> None:
    assert sniff(head) == what


def test_registry_order_and_lookup() -> None:
    ids = [fmt.id for fmt in registered()]
    assert len(set(ids)) == len(ids)
    assert ids.index("SVS") < ids.index("PYRTIFF") < ids.index("PLANARTIFF")
    assert format_by_id("pyrtiff").id == "PYRTIFF"
    assert ids.index("OMETIFF") < ids.index("PYRTIFF")  # microscopy before generic TIFF
    with pytest.raises(KeyError):
        format_by_id("NOSUCHFORMAT")


def test_describe_formats() -> None:
    described = describe_formats()
    assert [d["id"] for d in described] == [fmt.id for fmt in registered()]
    for entry in described:
        assert entry["name"] and entry["remarks"]
        assert set(entry) >= {"id", "name", "remarks", "convertible", "readable", "writable"}
        assert entry["plugin"].startswith("cytotile.formats.")
        assert isinstance(entry["readable"], bool) and isinstance(entry["writable"], bool)


PREFIXES = [b"II*\x00", b"MM\x00*", b"II+\x00", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b""]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=600))
def test_garbage_only_ever_raises_format_error(tmp_path: Path, prefix: bytes, body: bytes) -> None:
    path = tmp_path / "fuzz"
    path.write_bytes(prefix + body)
    try:
        fmt = detect(path)
    except FormatError as exc:
        assert exc.details
        return
    try:
        source = fmt.open(path)  # whatever passed detection parses, or is refused cleanly
    except FormatError as exc:
        assert exc.details
        return
    with source:
        assert source.metadata.width > 0
