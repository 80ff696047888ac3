"""What the shared suite does not check: an animated GIF as a time series, 12-bit JPEG 2000,
CMYK colours against known values, flattening onto white, metadata as PIMS reports it."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from cytotile.formats import detect
from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.formats.pillow import writers
from tests.helpers import synth


def _frames() -> list[np.ndarray]:
    return [np.full((40, 60, 3), (60 * i, 255 - 60 * i, 90), np.uint8) for i in range(3)]


def _animated_gif(path: Path) -> Path:
    from PIL import Image

    images = [Image.fromarray(f) for f in _frames()]
    images[0].save(path, "GIF", save_all=True, append_images=images[1:], duration=200, loop=0)
    return path


def test_animated_gif_is_a_time_series(tmp_path: Path) -> None:
    path = _animated_gif(tmp_path / "anim.bin")
    with detect(path).open(path) as source:
        meta = source.metadata
        assert (meta.duration, meta.depth, meta.n_planes) == (3, 1, 3)
        assert meta.frame_rate == pytest.approx(5.0)
        for t, frame in enumerate(_frames()):
            pixels = synth.to_numpy(source.plane(t=t)).astype(int)
            assert np.abs(pixels - frame).max() <= 2, t
        with pytest.raises(ValueError, match="3 frames"):
            source.plane(t=3)
    root = tmp_path / "root"
    manifest = import_file(LocalStorage(root), path, settings=ImportSettings(root=str(root)))
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert manifest.image is not None and manifest.image["duration"] == 3


def test_12_bit_jpeg2000_keeps_its_values_and_significant_bits(tmp_path: Path) -> None:
    import imagecodecs

    values = (np.arange(90 * 70, dtype=np.uint16).reshape(70, 90) * 7) % 4096
    path = tmp_path / "twelve.j2k"
    path.write_bytes(
        imagecodecs.jpeg2k_encode(values, codecformat="J2K", bitspersample=12, reversible=True)
    )
    with detect(path).open(path) as source:
        assert source.metadata.pixel_type == "uint16"
        assert source.metadata.significant_bits == 12
        assert np.array_equal(synth.to_numpy(source.plane())[:, :, 0], values)


def test_cmyk_jpeg_gives_the_right_colours(tmp_path: Path) -> None:
    """Pure inks, written by Pillow (Adobe APP14, inverted samples): red, green, blue, black."""
    from PIL import Image

    inks = [(0, 255, 255, 0), (255, 0, 255, 0), (255, 255, 0, 0), (0, 0, 0, 255)]
    cmyk = np.repeat(np.array(inks, np.uint8)[None, :, None, :], 16, axis=2).reshape(1, 64, 4)
    path = tmp_path / "inks.jpg"
    Image.fromarray(np.repeat(cmyk, 16, axis=0), "CMYK").save(path, quality=100)
    with detect(path).open(path) as source:
        assert "CMYK converted to RGB" in source.metadata.raw_metadata["cytotile.Conversion"]
        pixels = synth.to_numpy(source.plane()).astype(int)
    expected = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)]
    for i, rgb in enumerate(expected):
        assert np.abs(pixels[8, 16 * i + 8] - rgb).max() <= 3, (i, pixels[8, 16 * i + 8])


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[:, :15] = (10, 20, 30, 255)
    path = tmp_path / "half.webp"
    _webp(rgba, path)
    with detect(path).open(path) as source:
        pixels = synth.to_numpy(source.plane())
    assert (pixels[:, :15] == (10, 20, 30)).all() and (pixels[:, 15:] == 255).all()


def _webp(rgba: np.ndarray, path: Path) -> None:
    import pyvips

    pyvips.Image.new_from_array(rgba).copy(interpretation="srgb").webpsave(str(path), lossless=True)


def test_bmp_resolution_is_the_physical_size(tmp_path: Path) -> None:
    path = writers.bmp(tmp_path / "a.bmp", np.zeros((4, 5, 3), np.uint8), bits=24)
    with detect(path).open(path) as source:
        meta = source.metadata
    assert meta.physical_size_x == pytest.approx(1e6 / 3780)
    assert meta.raw_metadata["BMP.RowOrder"] == "bottom-up"
    assert meta.raw_metadata["BMP.PixelsPerMeterX"] == 3780


def test_jp2_capture_resolution_is_the_physical_size(tmp_path: Path) -> None:
    import imagecodecs

    data = imagecodecs.jpeg2k_encode(np.zeros((8, 8), np.uint8), codecformat="JP2")
    jp2h = data.index(b"jp2h") - 4
    (length,) = struct.unpack(">I", data[jp2h : jp2h + 4])
    resc = struct.pack(">I4sHHHHbb", 18, b"resc", 4, 1, 2, 1, 6, 6)  # 4e6 / 2e6 px per metre
    res = struct.pack(">I4s", 8 + len(resc), b"res ") + resc
    boxed = data[:jp2h] + struct.pack(">I", length + len(res)) + data[jp2h + 4 : jp2h + length]
    path = tmp_path / "res.jp2"
    path.write_bytes(boxed + res + data[jp2h + length :])
    with detect(path).open(path) as source:
        meta = source.metadata
    assert (meta.physical_size_x, meta.physical_size_y) == pytest.approx((0.5, 0.25))
    assert meta.raw_metadata["JPEG2000.CaptureXResolution"] == pytest.approx(2e6)


def test_netpbm_comment_is_the_description(tmp_path: Path) -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = writers.pnm(tmp_path / "c.pgm", grey, maxval=255, ascii=True, comment="stain: H&E")
    with detect(path).open(path) as source:
        meta = source.metadata
    assert meta.description == "stain: H&E"
    assert meta.raw_metadata["PPM.Format"] == "PGM ASCII (P2)"
