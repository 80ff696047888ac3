"""Level 1 from libjpeg's 1/2 scaled decoding of the source's tiles: the size of the 2x2 mean
(ceil(W/2) x ceil(H/2)), close to it inside, exactly it on edge tiles (the tiles' padding never
bleeds in); for every kind of source tile: YCbCr, RGB-coded (Aperio), grey, NDPI restart
intervals, DICOM frames. The histogram estimated from it totals W x H exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvips

from cytotile.importer.levelone import count_half, half_strips
from cytotile.importer.retile import JpegLevel, probe
from cytotile.importer.sourcetiles import halve, source_strips
from tests.helpers.jpegtiff import Encoder, libjpeg, texture, write_jpeg_tiff

WIDTH, HEIGHT, TILE = 501, 367, 64  # odd: the last row and column of level 1 are half pixels


def assert_edge_tiles_exact(level: JpegLevel, diff: np.ndarray, planes: bool = False) -> None:
    """Level 1 of the source tiles cut by the image's edge (decoded in full and box-halved)
    equals the reference exactly: ``diff`` is |level 1 - reference| over the whole level.
    ``planes``: made from the coefficients, where every component is sampled in full (an odd
    cut's last column or row paired with itself, by ``half``), no further from the reference
    than the whole tiles are."""
    last_x = (level.n_tx - 1) * level.tile_width // 2
    last_y = (level.n_ty - 1) * level.tile_height // 2
    components = level.frame.components
    full = planes and all(c[1:3] == components[0][1:3] for c in components)
    if level.width % level.tile_width:
        inside = int(diff[:, :last_x].max(initial=0))
        assert int(diff[:, last_x:].max()) <= (max(1, inside) if full else 0)
    if level.height % level.tile_height:
        inside = int(diff[:last_y].max(initial=0))
        assert int(diff[last_y:].max()) <= (max(1, inside) if full else 0)


def black_padding(encode: Encoder, width: int, height: int, tile: int) -> Encoder:
    """``encode`` of tiles whose pixels beyond the image are black (as some scanners pad)."""
    n_tx = -(-width // tile)

    def padded(pixels: np.ndarray, index: int) -> bytes:
        x0, y0 = index % n_tx * tile, index // n_tx * tile
        pixels = pixels.copy()
        pixels[max(0, height - y0) :] = 0
        pixels[:, max(0, width - x0) :] = 0
        return encode(pixels, index)

    return padded


def ycbcr(tmp: Path) -> JpegLevel:
    encoder = black_padding(libjpeg(75), WIDTH, HEIGHT, TILE)
    return probe(write_jpeg_tiff(tmp / "ycbcr.tif", texture(WIDTH, HEIGHT), TILE, encoder))


def narrow(tmp: Path) -> JpegLevel:  # narrower than one tile: every tile an edge tile
    encoder = black_padding(libjpeg(75), 51, 300, TILE)
    return probe(write_jpeg_tiff(tmp / "narrow.tif", texture(51, 300), TILE, encoder))


def whole_tiles(tmp: Path) -> JpegLevel:  # no edge tile at all
    return probe(write_jpeg_tiff(tmp / "whole.tif", texture(256, 192), TILE, libjpeg(75)))


def aperio(tmp: Path) -> JpegLevel:  # RGB-coded 4:4:4 tiles, photometric RGB
    pixels = texture(480, 320, seed=2)
    path = tmp / "rgb.tif"
    return probe(write_jpeg_tiff(path, pixels, 64, libjpeg(30, subsample=False), photometric=2))


def narrow_rgb(tmp: Path) -> JpegLevel:  # one column of RGB-coded 4:4:4 tiles cut at even
    pixels = texture(52, 302, seed=4)  # pixels both ways: level 1 of every tile from the planes
    encoder = black_padding(libjpeg(60, subsample=False), 52, 302, TILE)
    path = tmp / "narrow-rgb.tif"
    return probe(write_jpeg_tiff(path, pixels, TILE, encoder, photometric=2))


def grey(tmp: Path) -> JpegLevel:
    pixels = texture(WIDTH, HEIGHT, seed=3)[:, :, 1:2]
    path = tmp / "grey.tif"
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels))
    image.tiffsave(str(path), compression="jpeg", Q=80, tile=True, tile_width=64, tile_height=64)
    level = probe(path)
    assert level.photometric == 1
    return level


def intervals(tmp: Path) -> JpegLevel:  # NDPI: 176x16 restart intervals, 700x90
    from tests.importer.test_retile_intervals import interval_level

    return interval_level(tmp / "stripes.jpg", 700, 90)


def dicom(tmp: Path) -> JpegLevel:  # 256x256 frames, 4:2:0
    from cytotile.importer.dicomframes import probe_dicom
    from tests.helpers import dicomfiles, vendors

    paths = dicomfiles.write_wsi_series(tmp / "series", vendors.tissue(600, 400), n_levels=1)
    return probe_dicom(paths[0])


@pytest.mark.parametrize("make", [ycbcr, narrow, whole_tiles, aperio, grey, intervals, dicom])
def test_level_one_is_the_box_mean(tmp_path: Path, make: Callable[[Path], JpegLevel]) -> None:
    level = make(tmp_path)
    full = np.concatenate([strip.copy() for strip in source_strips(level)])  # reused buffers
    reference = halve(full).astype(np.int16)
    strips = list(half_strips(level))
    assert [h for _, h in strips] == [
        min(level.tile_height, level.height - ty * level.tile_height) for ty in range(level.n_ty)
    ]
    assert all(s.flags.c_contiguous and s.shape[0] == -(-h // 2) for s, h in strips)
    got = np.concatenate([s for s, _ in strips]).astype(np.int16)
    assert (
        got.shape == reference.shape == (-(-level.height // 2), -(-level.width // 2), got.shape[2])
    )
    diff = np.abs(got - reference)
    assert float(diff.mean()) < 1.5  # measured: 0.84 on the grainy texture (4:2:0), 0.36 (4:4:4)
    assert_edge_tiles_exact(level, diff)


@pytest.mark.parametrize(("height", "width"), [(64, 100), (63, 100), (64, 101), (7, 9), (1, 1)])
@pytest.mark.parametrize("samples", [1, 3])
@pytest.mark.parametrize("counter", ["numpy", "libvips"])
def test_count_half_is_level_one_replicated(
    monkeypatch: pytest.MonkeyPatch, height: int, width: int, samples: int, counter: str
) -> None:
    """Each level-1 pixel counts for the level-0 pixels it stands for: the histogram of level 1
    replicated 2x2 and cropped to the level-0 row, W x H in all; whichever counts it."""
    from cytotile.importer import levelone

    monkeypatch.setattr(levelone, "VIPS_MIN_SAMPLES", 1 if counter == "libvips" else 1 << 40)
    rng = np.random.default_rng(height * width * samples)
    strip = rng.integers(0, 256, (-(-height // 2), -(-width // 2), samples), dtype=np.uint8)
    counts = np.zeros((256, samples), np.int64)
    count_half(counts, strip, height, width)
    replicated = strip.repeat(2, axis=0).repeat(2, axis=1)[:height, :width]
    for b in range(samples):
        assert np.array_equal(counts[:, b], np.bincount(replicated[..., b].ravel(), minlength=256))
    assert int(counts.sum()) == height * width * samples


class Collect:
    """A tier builder's stand-in: keeps level 1's strips."""

    def __init__(self) -> None:
        self.strips: list[np.ndarray] = []

    def feed(self, strip: np.ndarray) -> None:
        self.strips.append(strip.copy())


def from_coefficients(level: JpegLevel, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Level 1 and its counts as the conversion makes them from the re-tiling's coefficients
    (the re-tiling in ``threads`` threads, the lower tiers' side in another)."""
    import threading

    from cytotile.importer import coefhalf, jpegpath
    from cytotile.importer.dctretile import codec
    from cytotile.importer.retile import retile

    lib = codec()
    assert lib is not None and coefhalf.supported(level, lib)
    halves = coefhalf.HalfRows(level, lib)
    collect, out = Collect(), []
    chain: dict[int, Any] = {1: collect}
    lower = threading.Thread(target=jpegpath._lower, args=(level, chain, out, halves))
    lower.start()
    try:
        for _ in retile(level, threads=threads, halves=halves):
            pass
        halves.close()
    except BaseException:
        halves.stop()  # as the conversion does on an error: never a hung thread
        raise
    finally:
        lower.join()
    assert not isinstance(out[0], BaseException), out[0]
    bands, kind = out[0]
    assert kind == "FAST"
    counts = np.array([b["bins"] for b in bands], np.int64).T
    return np.concatenate(collect.strips), counts


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize(
    "make", [ycbcr, narrow, narrow_rgb, whole_tiles, aperio, grey, intervals, dicom]
)
def test_level_one_from_the_coefficients(
    tmp_path: Path, make: Callable[[Path], JpegLevel], threads: int
) -> None:
    """Level 1 made by the re-tiling's bands from their coefficients (whole tiles: each block's
    2x2 box means, 4:2:0 chroma in full) is as close to the box mean as libjpeg's scaled
    decoding; tiles cut by the edge at an odd pixel are exactly the reference; its counts total
    W x H."""
    level = make(tmp_path)
    full = np.concatenate([strip.copy() for strip in source_strips(level)])
    reference = halve(full).astype(np.int16)
    got, counts = from_coefficients(level, threads)
    assert got.shape == reference.shape
    diff = np.abs(got.astype(np.int16) - reference)
    scaled = np.concatenate([s for s, _ in half_strips(level)]).astype(np.int16)
    # libjpeg's path decodes edge tiles in full (exact); ours makes those cut at an even pixel
    # from the planes too (the unrounded IDCT's means: 0.17 on a level of edge tiles only)
    assert float(diff.mean()) < float(np.abs(scaled - reference).mean()) + 0.2
    assert_edge_tiles_exact(level, diff, planes=True)
    expected = np.zeros_like(counts)
    count_half(expected, got, level.height, level.width)
    assert np.array_equal(counts, expected)
    assert int(counts.sum()) == level.width * level.height * got.shape[2]
