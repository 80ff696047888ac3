"""Conversion of multi-plane, 16-bit originals: one pyramid per (C, Z, T) plane, lossless,
located by (c, z, t, tier, tile); COMPLETE histograms equal numpy's; bounded memory on the
issue's 20000x20000 C=5 Z=3 T=2 OME-TIFF (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
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
BIG_T, BIG_Z, BIG_C = 2, 3, 5
SOURCE_TILE = 512
CHILD = """
import json, sys
from pathlib import Path
from cytotile.formats import detect
from cytotile.importer.convert import convert
src, out = Path(sys.argv[1]), Path(sys.argv[2])
with detect(src).open(src) as source:
    meta = source.metadata
    result = convert(source, out, workdir=out.parent)
# this process's own peak (VmHWM): ru_maxrss would also count the pytest worker's peak, which
# the child inherits through subprocess's vfork + exec (813 MiB once: the worker's, not ours)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
peak = int(status["VmHWM"].split()[0]) * 1024
sizes = [meta.n_concrete_channels, meta.depth, meta.duration, meta.pixel_type]
report = {"peak": peak, "sizes": sizes, "compression": result.compression}
out.with_suffix(".json").write_text(json.dumps({**report, "histogram": result.histogram}))
print(json.dumps(report))
"""


def _big_value(c: int, z: int, t: int) -> int:
    """The constant of plane (c, z, t): every plane differs."""
    return 1000 * (c + 1) + 100 * z + 10 * t + 1


def _big_marker(c: int, z: int, t: int) -> tuple[tuple[int, int], np.ndarray]:
    """The one source tile of plane (c, z, t) that is not constant: where (ty, tx), and its
    samples (noise over the plane's constant, placed differently in every plane)."""
    noise = np.random.default_rng(100 + c + 5 * z + 15 * t).integers(0, 20000, (512, 512))
    return (1 + c, 2 + z + 3 * t), (noise + _big_value(c, z, t)).astype(np.uint16)


def _write_big_ome(path: Path) -> None:
    """T=2, Z=3, C=5 planes of 20000x20000 uint16, 512-pixel zlib tiles, the half-resolution
    level in SubIFDs. 30 planes of 800 MB: the tiles are given to tifffile already encoded,
    mostly one constant tile per plane, so the file takes a few MB and seconds to write."""

    def tiles(level: int):  # type: ignore[no-untyped-def]
        side = -(-(BIG >> level) // SOURCE_TILE)
        for t in range(BIG_T):
            for z in range(BIG_Z):
                for c in range(BIG_C):
                    value = _big_value(c, z, t)
                    const = np.full((SOURCE_TILE, SOURCE_TILE), value, np.uint16)
                    (mty, mtx), marker = _big_marker(c, z, t)
                    if level:  # the marker's 2x2 means, in its quadrant of the level-1 tile
                        mty, mtx, quad = mty // 2, mtx // 2, const.copy()
                        half = marker.reshape(256, 2, 256, 2).mean(axis=(1, 3)).round()
                        y, x = 256 * ((1 + c) % 2), 256 * ((2 + z + 3 * t) % 2)
                        quad[y : y + 256, x : x + 256] = half
                        marker = quad
                    plain, special = zlib.compress(const.tobytes(), 9), zlib.compress(marker)
                    for ty in range(side):
                        for tx in range(side):
                            yield special if (ty, tx) == (mty, mtx) else plain

    meta = {"axes": "TZCYX", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 1.0}
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        opts = {
            "tile": (SOURCE_TILE, SOURCE_TILE),
            "compression": "zlib",
            "photometric": "minisblack",
            "dtype": np.uint16,
        }
        shape = (BIG_T, BIG_Z, BIG_C)
        tif.write(tiles(0), shape=(*shape, BIG, BIG), subifds=1, metadata=meta, **opts)
        half = BIG // 2
        tif.write(tiles(1), shape=(*shape, half, half), subfiletype=1, metadata=None, **opts)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_big_five_dimensional_ome_tiff_bounded_memory(tmp_path: Path) -> None:
    """The issue's case: a 16-bit 5-channel OME-TIFF with Z=3 and T=2, 20000x20000, pyramidal
    with SubIFDs (24 GB of samples). The conversion (its own process) streams: its peak RSS
    stays far under the 1 GiB budget (measured: 336-342 MiB); every plane lands where
    (c, z, t) says, lossless; its histogram equals numpy's over the full-resolution plane.
    Slow: 30 planes of 400 Mpx (~190 s of CPU; 10 min on this machine under a load of 7)."""
    path = tmp_path / "big.ome.tif"
    _write_big_ome(path)
    out = tmp_path / "pyramid.tif"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    peak = report["peak"] / 2**20
    print(f"20000x20000 C=5 Z=3 T=2 uint16 OME-TIFF: conversion peak RSS {peak:.0f} MiB")
    assert report["sizes"] == [BIG_C, BIG_Z, BIG_T, "uint16"]
    assert report["compression"] == "deflate"
    assert report["peak"] < 512 * 2**20, report  # the budget is 1 GiB; measured 336-342 MiB
    histogram = json.loads(out.with_suffix(".json").read_text())["histogram"]
    assert histogram["type"] == "COMPLETE" and len(histogram["planes"]) == 30
    reader = PyramidReader.load(LocalStorage(tmp_path), "pyramid.tif")
    header = reader.header
    assert (header.width, header.height, header.n_planes) == (BIG, BIG, 30)
    by_plane = {(p["c"], p["z"], p["t"]): p["channels"][0] for p in histogram["planes"]}
    for t in range(BIG_T):
        for z in range(BIG_Z):
            for c in range(BIG_C):
                (ty, tx), marker = _big_marker(c, z, t)
                plane = header.plane_index(c, z, t)
                box = Region(tx * 512, ty * 512, 512, 512)
                assert np.array_equal(reader.read_region(plane, 0, box)[..., 0], marker)
                corner = reader.read_tile(plane, 0, 78, 78)  # the bottom-right edge tile
                assert (corner == _big_value(c, z, t)).all()
                # numpy's histogram of the full plane: the constant everywhere but the marker
                bins = np.histogram(marker, 4096, (0, 65536))[0]
                bins[_big_value(c, z, t) // 16] += BIG * BIG - marker.size
                band = by_plane[(c, z, t)]
                assert band["bins"] == bins.tolist()
                assert (band["min"], band["max"]) == (_big_value(c, z, t), int(marker.max()))


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
