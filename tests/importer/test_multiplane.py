"""Conversion of multi-plane, 16-bit originals: one pyramid per (C, Z, T) plane, lossless,
located by (c, z, t, tier, tile); COMPLETE histograms equal numpy's; bounded memory (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from cytotile.formats import detect
from cytotile.importer.convert import convert
from cytotile.pyramid import Region
from cytotile.storage.local import LocalStorage
from cytotile.tiff.reader import PyramidReader
from tests.formats.test_microscopy import C, H, T, W, Z, ome_pyramid


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, PyramidReader, dict]:
    folder = tmp_path_factory.mktemp("multi")
    data = np.random.default_rng(3).integers(0, 65535, size=(T, C, Z, H, W), dtype=np.uint16)
    original = ome_pyramid(folder / "five.ome.tif", data)
    with detect(original).open(original) as source:
        result = convert(source, folder / "pyramid.tif", workdir=folder)
    reader = PyramidReader.load(LocalStorage(folder), "pyramid.tif")
    return data, reader, {"compression": result.compression, **result.histogram}


def test_every_plane_lossless(converted: tuple[np.ndarray, PyramidReader, dict]) -> None:
    data, reader, info = converted
    header = reader.header
    assert info["compression"] == "none"  # uniform random samples: deflate would not pay
    assert (header.n_concrete_channels, header.depth, header.duration) == (C, Z, T)
    assert header.pixel_type == "uint16" and header.n_planes == C * Z * T
    for t in range(T):
        for z in range(Z):
            for c in range(C):
                plane = header.plane_index(c, z, t)
                tile = reader.read_tile(plane, 0, 1, 0)  # (c, z, t, tier 0, tile (1, 0))
                assert np.array_equal(tile[..., 0], data[t, c, z, :256, 256:W])
    whole = reader.read_region(header.plane_index(4, 2, 1), 0, Region(0, 0, W, H))
    assert np.array_equal(whole[..., 0], data[1, 4, 2])
    lower = reader.read_region(header.plane_index(1, 0, 1), 1, Region(0, 0, W // 2, H // 2))
    expected = data[1, 1, 0].reshape(H // 2, 2, W // 2, 2).astype(float).mean(axis=(1, 3))
    assert np.abs(lower[..., 0] - expected).max() <= 1


def test_histograms_equal_numpy(converted: tuple[np.ndarray, PyramidReader, dict]) -> None:
    data, _, info = converted
    assert info["type"] == "COMPLETE" and info["n_bins"] == 4096
    assert len(info["planes"]) == C * Z * T
    for plane in info["planes"]:
        values = data[plane["t"], plane["c"], plane["z"]]
        band = plane["channels"][0]
        assert band["bins"] == np.histogram(values, 4096, (0, 65536))[0].tolist()
        assert (band["min"], band["max"]) == (values.min(), values.max())


def test_imagej_composite_import(tmp_path: Path) -> None:
    data = np.random.default_rng(5).integers(0, 4000, size=(3, 2, 90, 130), dtype=np.uint16)
    path = tmp_path / "composite.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZCYX", "mode": "composite"})
    with detect(path).open(path) as source:
        result = convert(source, tmp_path / "p.tif", workdir=tmp_path)
    reader = PyramidReader.load(LocalStorage(tmp_path), "p.tif")
    assert (reader.header.n_concrete_channels, reader.header.depth) == (2, 3)
    got = reader.read_region(reader.header.plane_index(1, 2, 0), 0, Region(0, 0, 130, 90))
    assert np.array_equal(got[..., 0], data[2, 1])
    assert result.compression == "none"  # 12 random bits in 16: under 1.5x with deflate


def test_compressible_planes_are_deflated(tmp_path: Path) -> None:
    y, x = np.mgrid[0:200, 0:300]
    data = np.stack([(x * 100 + y * c) for c in (1, 2)]).astype(np.uint16)
    path = tmp_path / "smooth.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CYX"}, photometric="minisblack")
    with detect(path).open(path) as source:
        result = convert(source, tmp_path / "p.tif", workdir=tmp_path)
    assert result.compression == "deflate"
    reader = PyramidReader.load(LocalStorage(tmp_path), "p.tif")
    got = reader.read_region(reader.header.plane_index(1), 0, Region(0, 0, 300, 200))
    assert np.array_equal(got[..., 0], data[1])


BIG = 20000
CHILD = """
import json, resource, sys
from pathlib import Path
from cytotile.formats import detect
from cytotile.importer.convert import convert
src, out = Path(sys.argv[1]), Path(sys.argv[2])
with detect(src).open(src) as source:
    result = convert(source, out, workdir=out.parent)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak": peak, "planes": len(result.histogram["planes"])}))
"""


@pytest.mark.slow
def test_big_pyramidal_ome_tiff_bounded_memory(tmp_path: Path) -> None:
    """20000x20000, 16-bit, 2 channels, SubIFD pyramid: one plane is 800 MB of samples; the
    conversion (own process) must stay far below that."""
    tile = np.random.default_rng(1).integers(0, 65535, (512, 512), dtype=np.uint16)
    path = tmp_path / "big.ome.tif"

    def tiles(level: int, channels: int = 2):
        side = -(-BIG // (512 * 2**level))
        for _ in range(channels * side * side):
            yield tile

    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        opts = {
            "tile": (512, 512),
            "compression": "zlib",
            "photometric": "minisblack",
            "dtype": np.uint16,
        }
        tif.write(tiles(0), shape=(2, BIG, BIG), subifds=1, metadata={"axes": "CYX"}, **opts)
        tif.write(tiles(1), shape=(2, BIG // 2, BIG // 2), subfiletype=1, **opts)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(tmp_path / "pyramid.tif")],
        check=True,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"20000x20000x2 uint16 OME-TIFF: conversion peak RSS {report['peak'] / 2**20:.0f} MiB")
    assert report["planes"] == 2
    assert report["peak"] < 700 * 2**20, report


@pytest.mark.parametrize("dtype", [np.uint32, np.float32, np.int16, np.int32])
def test_32_bit_and_signed_planes(tmp_path: Path, dtype: type) -> None:
    rng = np.random.default_rng(11)
    if dtype is np.float32:
        data = rng.normal(0.0, 100.0, size=(2, 70, 90)).astype(np.float32)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, size=(2, 70, 90), dtype=dtype)
    path = tmp_path / "w.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CYX"}, photometric="minisblack")
    with detect(path).open(path) as source:
        result = convert(source, tmp_path / "p.tif", workdir=tmp_path)
    reader = PyramidReader.load(LocalStorage(tmp_path), "p.tif")
    got = reader.read_region(reader.header.plane_index(1), 0, Region(0, 0, 90, 70))[..., 0]
    shift = {np.int16: (32768, np.uint16), np.int32: (2**31, np.uint32)}.get(dtype)
    served = (data.astype(np.int64) + shift[0]).astype(shift[1]) if shift else data
    assert got.dtype == served.dtype and np.array_equal(got, served[1])
    planes = result.histogram["planes"]
    assert [round(p["channels"][0]["max"], 3) for p in planes] == [
        round(float(served[c].max()), 3) for c in range(2)
    ]
    if dtype is np.int16:
        return
    lo, hi = result.histogram["range"]
    bins = np.histogram(served[1].astype(np.float64), 4096, (lo, hi))[0]
    assert np.abs(np.array(planes[1]["channels"][0]["bins"]) - bins).sum() <= 2  # edge rounding
