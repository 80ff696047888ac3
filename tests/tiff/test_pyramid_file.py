"""The serving pyramid: written by repacking libvips output, read back by byte ranges."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import pyvips
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cytotile.errors import PyramidError
from cytotile.formats.base import ImageMetadata, Source
from cytotile.importer.convert import convert
from cytotile.pyramid import Pyramid, Region
from cytotile.storage.local import LocalStorage
from cytotile.tiff import reader as reader_module
from cytotile.tiff.parse import parse_index
from cytotile.tiff.reader import PyramidReader, open_pyramid


class ImageSource(Source):
    def __init__(self, image: pyvips.Image, pixel_type: str = "uint8") -> None:
        self.image = image
        self.metadata = ImageMetadata(
            "TEST",
            image.width,
            image.height,
            image.bands,
            1,
            image.bands,
            pixel_type,
            16 if pixel_type == "uint16" else 8,
        )

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        return self.image


class CountingStorage(LocalStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gets = 0

    def read_range(self, key: str, start: int, length: int) -> bytes:
        self.gets += 1
        return super().read_range(key, start, length)


def gradient(width: int, height: int, bands: int = 3, fmt: str = "uchar") -> pyvips.Image:
    xyz = pyvips.Image.xyz(width, height)
    scale = 257 if fmt == "ushort" else 1
    planes = [((xyz[0] * (b + 1) + xyz[1] * 3) % 251) * scale for b in range(bands)]
    return planes[0].bandjoin(planes[1:]).cast(fmt) if bands > 1 else planes[0].cast(fmt)


def build(tmp_path: Path, image: pyvips.Image, pixel_type: str = "uint8") -> Path:
    out = tmp_path / "pyr.tif"
    convert(ImageSource(image, pixel_type), out, quality=92)
    return out


@pytest.mark.parametrize(
    ("width", "height", "bands", "fmt"),
    [
        (1001, 777, 3, "uchar"),
        (512, 256, 1, "uchar"),
        (300, 700, 3, "ushort"),
        (90, 40, 3, "uchar"),
    ],
)
def test_every_tile_of_every_tier(
    tmp_path: Path, width: int, height: int, bands: int, fmt: str
) -> None:
    image = gradient(width, height, bands, fmt)
    build(tmp_path, image, "uint16" if fmt == "ushort" else "uint8")
    reader = PyramidReader.load(LocalStorage(tmp_path), "pyr.tif")
    pyramid = Pyramid(width, height)
    assert reader.header.n_tiers == pyramid.n_tiers
    reference = image.numpy().reshape(height, width, bands)
    for tier in pyramid.tiers:
        stored = reader.tier(0, tier.level)
        assert (stored.width, stored.height) == (tier.width, tier.height)
        for ty in range(tier.n_ty):
            for tx in range(tier.n_tx):
                region = tier.tile_region(tx, ty)
                pixels = reader.read_tile(0, tier.level, tx, ty)
                assert pixels.shape == (region.height, region.width, bands)
                if reader.is_jpeg(0, tier.level):
                    jpeg = pyvips.Image.jpegload_buffer(reader.jpeg_tile(0, tier.level, tx, ty))
                    assert (jpeg.width, jpeg.height) == (region.width, region.height)
                if tier.level == 0:
                    expected = reference[region.top : region.bottom, region.left : region.right]
                    diff = np.abs(pixels.astype(int) - expected.astype(int))
                    if fmt == "ushort":
                        assert diff.max() == 0  # lossless
                    else:
                        assert diff.mean() < 3


def test_standard_readers_see_a_valid_pyramid(tmp_path: Path) -> None:
    out = build(tmp_path, gradient(1001, 777))
    for level, (w, h) in enumerate([(1001, 777), (501, 389), (251, 195)]):
        page = pyvips.Image.tiffload(str(out), page=level)
        assert (page.width, page.height) == (w, h)


def test_gets_cold_and_warm(tmp_path: Path) -> None:
    build(tmp_path, gradient(3000, 2000))
    storage = CountingStorage(tmp_path)
    reader_module._cache.clear()
    reader = open_pyramid(storage, "pyr.tif")
    assert storage.gets == 1  # a small index fits in the first read
    reader.jpeg_tile(0, 0, 3, 2)
    assert storage.gets == 2
    for tx, ty in [(0, 0), (11, 7), (5, 5)]:
        before = storage.gets
        open_pyramid(storage, "pyr.tif").jpeg_tile(0, 0, tx, ty)
        assert storage.gets == before + 1


def test_large_index_takes_two_gets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(tmp_path, gradient(3000, 2000))
    monkeypatch.setattr(reader_module.L, "FIRST_READ", 1024)
    storage = CountingStorage(tmp_path)
    reader = PyramidReader.load(storage, "pyr.tif")
    assert storage.gets == 2 and reader.index.index_size > 1024


def test_region_reads_one_get_per_tile_row(tmp_path: Path) -> None:
    image = gradient(3000, 2000)
    build(tmp_path, image)
    storage = CountingStorage(tmp_path)
    reader = PyramidReader.load(storage, "pyr.tif")
    before = storage.gets
    pixels = reader.read_region(0, 0, Region(100, 200, 700, 300))  # 4 tiles wide, 2 rows
    assert storage.gets - before == 2
    expected = image.numpy()[200:500, 100:800]
    assert np.abs(pixels.astype(int) - expected.astype(int)).mean() < 3


def test_not_a_pyramid(tmp_path: Path) -> None:
    (tmp_path / "x.tif").write_bytes(b"II*\x00" + b"\x00" * 100)
    with pytest.raises(PyramidError):
        PyramidReader.load(LocalStorage(tmp_path), "x.tif")


@pytest.fixture(scope="module")
def index_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("index")
    build(folder, gradient(700, 600))
    data = (folder / "pyr.tif").read_bytes()
    return data[: parse_index(data).index_size]


@settings(
    max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture], print_blob=False
)
@given(st.data())
def test_corrupt_index_only_raises_pyramid_error(index_bytes: bytes, data: st.DataObject) -> None:
    buf = bytearray(index_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    with contextlib.suppress(PyramidError):
        parse_index(bytes(buf[:cut]) if cut < 64 else bytes(buf))
