"""Known metadata values: what PIMS shows in /image/{path}/info for each format."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from cytotile.formats import detect
from cytotile.formats.base import AssociatedInfo
from tests.helpers import synth
from tests.helpers.samples import sample


def test_aperio_svs() -> None:
    path = sample("CMU-1-Small-Region.svs")
    with detect(path).open(path) as source:
        meta = source.metadata
        assert (meta.width, meta.height) == (2220, 2967)
        assert meta.physical_size_x == meta.physical_size_y == pytest.approx(0.499)
        assert meta.objective_nominal_magnification == 20
        assert meta.acquired_at == "2009-12-29T09:59:15"
        assert meta.microscope_model == "CPAPERIOCS"
        assert meta.description and meta.description.startswith("Aperio Image Library")
        raw = meta.raw_metadata
        assert raw["APERIO.MPP"] == 0.499 and raw["APERIO.AppMag"] == 20  # typed, as PIMS
        assert raw["APERIO.Aperio Image Library"] == "v11.2.1"
        assert raw["APERIO.Description"].startswith("46000x32914 [42673,5576 2220x2967]")
        baseline = {"ImageWidth": 2220, "ImageLength": 2967, "BitsPerSample": [8, 8, 8],
                    "Compression": "JPEG", "TileWidth": 240, "TileLength": 240}  # fmt: skip
        assert {k: raw[f"TIFF.{k}"] for k in baseline} == baseline
        assert raw["OPENSLIDE.vendor"] == "aperio" and raw["OPENSLIDE.objective-power"] == 20
        assert not any(k.startswith(("aperio.", "tiff.", "openslide.")) for k in raw)
        assert meta.associated == {
            "label": AssociatedInfo(387, 463, 3),
            "macro": AssociatedInfo(1280, 431, 3),
            "thumb": AssociatedInfo(574, 768, 3),
        }
        for name, info in meta.associated.items():
            image = source.associated(name)
            assert image is not None
            assert (image.width, image.height, image.bands, image.format) == (
                info.width,
                info.height,
                3,
                "uchar",
            )
        assert source.associated("overview") is None


def test_synthetic_svs_associated_pixels_and_time_zone(tmp_path: Path) -> None:
    base = synth.to_numpy(synth.tissue(700, 500))
    props = "AppMag = 40|MPP = 0.2500|Date = 03/04/21|Time = 13:14:15|Time Zone = GMT+0100"
    path = synth.write_svs(tmp_path / "s.svs", base, properties=props)
    with detect(path).open(path) as source:
        meta = source.metadata
        assert meta.acquired_at == "2021-03-04T13:14:15+01:00"
        assert meta.physical_size_x == pytest.approx(0.25)
        assert meta.objective_nominal_magnification == 40
        raw = meta.raw_metadata
        assert (raw["APERIO.AppMag"], raw["APERIO.MPP"]) == (40, 0.25)
        assert raw["APERIO.Date"] == "03/04/21"
        assert raw["TIFF.ImageWidth"] == 700 and raw["TIFF.ImageLength"] == 500
        label = source.associated("label")
        macro = source.associated("macro")
        assert label is not None and macro is not None
        np.testing.assert_array_equal(synth.to_numpy(label), base[:125, :140])
        np.testing.assert_array_equal(synth.to_numpy(macro), base[:62, :])
        assert set(meta.associated) == {"label", "macro", "thumb"}


def test_jpeg_exif_and_resolution() -> None:
    path = sample("sample.jpg")
    with detect(path).open(path) as source:
        meta = source.metadata
    assert meta.physical_size_x == pytest.approx(25400 / 299.999)
    assert meta.raw_metadata["exif.ResolutionUnit"] == "INCH"
    assert meta.raw_metadata["jpeg.EncodingProcess"] == "baseline"


def test_jpeg_comment_and_date(tmp_path: Path) -> None:
    data = bytearray(synth.tissue(32, 32).jpegsave_buffer(keep="none"))
    comment = b"H&E, 20x"
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    path = tmp_path / "c.jpg"
    path.write_bytes(bytes(data[:2]) + segment + bytes(data[2:]))
    with detect(path).open(path) as source:
        assert source.metadata.description == "H&E, 20x"


def test_png_text_time_and_physical_size(tmp_path: Path) -> None:
    image = synth.tissue(40, 30).copy(xres=4, yres=4)  # 4 pixels/mm: 250 um/pixel (pHYs)
    raw = image.pngsave_buffer(keep="none")
    chunks = synth.png_chunk(b"tEXt", b"Description\x00a tissue section")
    chunks += synth.png_chunk(b"tEXt", b"Creation Time\x002024:05:06 07:08:09")
    path = tmp_path / "t.png"
    path.write_bytes(raw[:33] + chunks + raw[33:])
    with detect(path).open(path) as source:
        meta = source.metadata
    assert meta.physical_size_x == meta.physical_size_y == pytest.approx(250.0)
    assert meta.description == "a tissue section"
    assert meta.acquired_at == "2024-05-06T07:08:09"
    assert meta.raw_metadata["png.ColorType"] == "RGB"
    assert meta.raw_metadata["png.Compression"] == "Deflate/Inflate"  # as PIMS (ExifTool) names it
    assert meta.raw_metadata["png.Filter"] == "Adaptive"


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("rgba.png", "alpha flattened onto white"),
        ("indexed.png", "palette expanded to RGB"),
        ("fixture-bali.tif", "palette expanded to RGB"),
        ("1bit.tif", "1-bit samples expanded"),
    ],
)
def test_conversions_are_recorded(name: str, note: str) -> None:
    path = sample(name)
    with detect(path).open(path) as source:
        assert note in source.metadata.raw_metadata["cytotile.Conversion"]


def test_tiff_tags_date_and_resolution(tmp_path: Path) -> None:
    path = synth.write_tiff(
        tmp_path / "d.tif",
        np.zeros((20, 30), np.uint16),
        resolution=(2000, 2000),
        resolutionunit="CENTIMETER",
        datetime="2023:01:02 03:04:05",
        description="planar test",
        metadata=None,
    )
    with detect(path).open(path) as source:
        meta = source.metadata
    assert meta.physical_size_x == pytest.approx(5.0)  # 10000 um / 2000 pixels per cm
    assert meta.acquired_at == "2023-01-02T03:04:05"
    assert meta.description == "planar test"
    assert meta.raw_metadata["tiff.ImageWidth"] == 30
    assert meta.raw_metadata["tiff.PageCount"] == 1


def test_pyramidal_tiff_levels() -> None:
    path = sample("boxes.tiff")
    with detect(path).open(path) as source:
        raw = source.metadata.raw_metadata
    assert raw["pyrtiff.Levels"] == 4
    assert raw["pyrtiff.LevelSizes"] == ["300x250", "150x125", "75x62", "37x31"]


def test_aperio_description_parsing() -> None:
    from cytotile.formats.tiff.svs import aperio_metadata, typed

    assert (typed(" 20 "), typed("-0.5"), typed("2.5e3")) == (20, -0.5, 2500.0)
    assert (typed("1e3"), typed("12/29/09"), typed("ID 7")) == ("1e3", "12/29/09", "ID 7")
    raw = aperio_metadata("Aperio Image Library v10.0.51\r\n100x50 (256x256) JPEG/RGB Q=70|"
                          "AppMag = 40|MPP = 0.2525|no pair here|Empty = |Left = -1.5")  # fmt: skip
    assert raw == {
        "APERIO.Aperio Image Library": "v10.0.51",
        "APERIO.Description": "100x50 (256x256) JPEG/RGB Q=70",
        "APERIO.AppMag": 40,
        "APERIO.MPP": 0.2525,
        "APERIO.Empty": "",
        "APERIO.Left": -1.5,
    }
    other = aperio_metadata("Aperio Leica Biosystems GT450 v1.0.1|AppMag = 20")
    assert other == {"APERIO.Description": "Aperio Leica Biosystems GT450 v1.0.1",
                     "APERIO.AppMag": 20}  # fmt: skip
