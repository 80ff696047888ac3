"""Import of JPEG-tiled TIFFs: the DCT path when the tiles qualify, the re-encode path when not;
both serve the source's pixels (level 0 exactly on the DCT path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvips
import simplejpeg

from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from cytotile.tiff.reader import open_pyramid
from tests.helpers.jpegtiff import Encoder, libjpeg, sampled, texture, write_jpeg_tiff
from tests.helpers.pixels import box_downsample, mad
from tests.helpers.samples import sample

WIDTH, HEIGHT = 900, 600


def single_encode_loss(pixels: np.ndarray, quality: int = 80) -> float:
    """What one YCbCr 4:2:0 encode of ``pixels`` at ``quality`` loses (mean abs difference)."""
    exact = np.ascontiguousarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    encoded = simplejpeg.encode_jpeg(exact, quality=quality, colorsubsampling="420")
    return mad(simplejpeg.decode_jpeg(encoded), pixels)


@pytest.mark.parametrize(
    ("encoder", "method"),
    [(libjpeg(80, subsample=False), "dct-retile"), (sampled("4:1:1", 80), "libvips")],
    ids=["aligned", "not-mcu-aligned"],
)
def test_import_serves_the_source(tmp_path: Path, encoder: Encoder, method: str) -> None:
    src = write_jpeg_tiff(
        tmp_path / "slide.tif",
        texture(WIDTH, HEIGHT),
        240,
        encoder,
        shared_tables=method == "dct-retile",
        subsampling=(1, 1) if method == "dct-retile" else (4, 1),
    )
    reference = pyvips.Image.tiffload(str(src)).numpy()
    root = tmp_path / "root"
    storage = LocalStorage(root)
    manifest = import_file(storage, src, settings=ImportSettings(root=str(root)))
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert manifest.pyramid["method"] == method
    reader = open_pyramid(storage, f"{manifest.id}/processed/visualisation.PYRTIFF")
    for level in range(reader.header.n_tiers):
        tier = reader.tier(0, level)
        expected = box_downsample(reference, level)
        mads: list[float] = []
        baselines: list[float] = []
        for ty in range(tier.n_ty):
            for tx in range(tier.n_tx):
                served = simplejpeg.decode_jpeg(reader.jpeg_tile(0, level, tx, ty))
                part = expected[ty * 256 : ty * 256 + 256, tx * 256 : tx * 256 + 256]
                assert served.shape == part.shape
                if level == 0 and method == "dct-retile":  # 4:4:4: exactly the source
                    assert np.array_equal(served, part.astype(np.uint8)), (tx, ty)
                mads.append(mad(served, part))
                baselines.append(single_encode_loss(part))
        # no worse than one 4:2:0 encode of the true tier at the lowest quality used, plus 1
        assert float(np.mean(mads)) <= float(np.mean(baselines)) + 1.0, (level, mads, baselines)


@pytest.mark.parametrize(("width", "height"), [(WIDTH, HEIGHT), (100, 250)], ids=["", "narrow"])
def test_histogram_is_the_sources(tmp_path: Path, width: int, height: int) -> None:
    """The DCT path's complete histogram (from its one decode of the source's tiles) is the one
    libvips computes from its own read of the source: every bin, min and max; also for a
    level narrower than one tile (no whole tile in a row)."""
    from cytotile.importer.histograms import plane_histogram
    from cytotile.importer.jpegpath import write_jpeg_pyramid
    from cytotile.importer.retile import probe
    from cytotile.pyramid import normalized_sizes
    from cytotile.tiff.layout import PyramidHeader

    src = write_jpeg_tiff(tmp_path / "slide.tif", texture(width, height), 240, libjpeg(75))
    sizes = normalized_sizes(width, height)
    header = PyramidHeader(width, height, len(sizes), n_samples=3)
    out = tmp_path / "pyramid.tif"
    _, (bands, kind) = write_jpeg_pyramid(probe(src), out, header, sizes, 85, tmp_path)
    assert kind == "COMPLETE"  # a level of at most COMPLETE_PIXELS: every pixel counted
    assert bands == plane_histogram(pyvips.Image.tiffload(str(src)))
    assert [b["min"] < b["max"] for b in bands] == [True] * 3


def fast_histogram(src: Path, tmp_path: Path) -> tuple[list[dict[str, Any]], str]:
    from cytotile.importer.jpegpath import write_jpeg_pyramid
    from cytotile.importer.retile import probe
    from cytotile.pyramid import normalized_sizes
    from cytotile.tiff.layout import PyramidHeader

    level = probe(src)
    sizes = normalized_sizes(level.width, level.height)
    header = PyramidHeader(level.width, level.height, len(sizes), n_samples=3)
    out = tmp_path / "pyramid.tif"
    _, histogram = write_jpeg_pyramid(level, out, header, sizes, 85, tmp_path)
    return histogram


def distance(a: list[int], b: list[int]) -> float:
    """L1 distance of two histograms normalized to 1 (0: the same shape, 2: disjoint)."""
    pa, pb = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(pa / pa.sum() - pb / pb.sum()).sum())


@pytest.mark.parametrize("name", ["synthetic", "CMU-1-Small-Region.svs"])
def test_fast_histogram_is_level_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Over COMPLETE_PIXELS the histogram is counted from level 1 (FAST): W x H in all, level 1's
    bounds, and close to the complete histogram of libvips's read of the source."""
    from cytotile.importer import jpegpath
    from cytotile.importer.histograms import plane_histogram
    from cytotile.importer.levelone import half_strips
    from cytotile.importer.retile import probe

    if name == "synthetic":
        src = write_jpeg_tiff(tmp_path / "slide.tif", texture(WIDTH, HEIGHT), 240, libjpeg(75))
        monkeypatch.setattr(jpegpath, "COMPLETE_PIXELS", WIDTH * HEIGHT - 1)
    else:
        src = sample(name)  # 6.6 Mpx: over COMPLETE_PIXELS as it is
    bands, kind = fast_histogram(src, tmp_path)
    assert kind == "FAST"
    level1 = np.concatenate([strip for strip, _ in half_strips(probe(src))])
    complete = plane_histogram(pyvips.Image.tiffload(str(src)))
    for b, (band, full) in enumerate(zip(bands, complete, strict=True)):
        assert sum(band["bins"]) == sum(full["bins"])  # W x H
        assert (band["min"], band["max"]) == (int(level1[..., b].min()), int(level1[..., b].max()))
        assert full["min"] <= band["min"] <= band["max"] <= full["max"]
        # measured: 0.039-0.042 (the grainy texture), 0.023-0.034 (CMU-1)
        assert distance(band["bins"], full["bins"]) < 0.06, b


def test_imported_histogram_type(tmp_path: Path) -> None:
    """The stored type is served: FAST over COMPLETE_PIXELS (the import runs in a sandboxed
    process: a real 4.1 Mpx source), with W x H counts in all."""
    from starlette.testclient import TestClient

    from cytotile.api.app import create_app
    from cytotile.importer.levelone import COMPLETE_PIXELS
    from cytotile.settings import ServerSettings

    width, height = 2048, 2000
    assert width * height > COMPLETE_PIXELS
    src = write_jpeg_tiff(tmp_path / "slide.tif", texture(width, height), 240, libjpeg(75))
    root = tmp_path / "root"
    storage = LocalStorage(root)
    manifest = import_file(storage, src, settings=ImportSettings(root=str(root)))
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert manifest.pyramid["method"] == "dct-retile"
    with TestClient(create_app(ServerSettings(root=str(root)), storage)) as client:
        base = f"/image/{manifest.id}/{manifest.original_name}/histogram/per-image"
        got = client.get(base).json()
        assert got["type"] == "FAST"
        assert sum(got["histogram"]) == 3 * width * height
        assert client.get(base + "/bounds").json()["type"] == "FAST"
