"""Lossless re-tiling of JPEG-tiled sources: level 0 decodes to the source's own pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyvips
import simplejpeg

from cytotile.importer import jpegmarkers as jm
from cytotile.importer.retile import NotRetilable, probe, retile
from tests.helpers.jpegtiff import libjpeg, sampled, texture, write_jpeg_tiff

WIDTH, HEIGHT, SOURCE_TILE = 1000, 700, 240


def source_pixels(path: Path) -> np.ndarray:
    """The source decoded by libvips (libtiff + libjpeg), independently of cytotile."""
    pixels: np.ndarray = pyvips.Image.tiffload(str(path)).numpy()
    return pixels


def far_from_seams(width: int, height: int, margin: int = 16) -> np.ndarray:
    """Pixels at least ``margin`` away from every source-tile and 256-tile boundary and from the
    image's edge (chroma upsampling near a seam reads the neighbouring tile's samples; at the
    image's edge a source tile has its padding there, an exact-size tile nothing)."""

    def axis(n: int) -> np.ndarray:
        x = np.arange(n)
        near = x >= n - margin
        for tile in (SOURCE_TILE, 256):
            d = x % tile
            near |= (d < margin) | (d >= tile - margin)
        return ~near

    return np.outer(axis(height), axis(width))


@pytest.mark.parametrize(
    ("subsample", "restart", "shared"),
    [(True, 0, True), (False, 0, True), (True, 2, False), (False, 1, False)],
    ids=["420-tables", "444-tables", "420-restart-per-tile", "444-restart-per-tile"],
)
def test_retiled_tiles_are_the_source(
    tmp_path: Path, subsample: bool, restart: int, shared: bool
) -> None:
    pixels = texture(WIDTH, HEIGHT)
    encode = libjpeg(75, subsample=subsample, restart=restart)
    sampling = (2, 2) if subsample else (1, 1)
    src = write_jpeg_tiff(
        tmp_path / "src.tif",
        pixels,
        SOURCE_TILE,
        encode,
        shared_tables=shared,
        subsampling=sampling,
    )
    level = probe(src)
    first = level.stream_of(0)
    assert jm.has_marker(first, jm.DRI) == bool(restart)
    reference = source_pixels(src).astype(np.int16)
    mask = far_from_seams(WIDTH, HEIGHT)
    tiles = list(retile(level, tmp_path))
    assert len(tiles) == 4 * 3
    for tile in tiles:
        x0, y0 = tile.tx * 256, tile.ty * 256
        w, h = min(256, WIDTH - x0), min(256, HEIGHT - y0)
        padded = simplejpeg.decode_jpeg(tile.padded)
        assert padded.shape == (256, 256, 3)
        stream = tile.exact if (w, h) != (256, 256) else tile.padded
        assert (tile.exact is None) == ((w, h) == (256, 256))
        assert stream is not None
        served = simplejpeg.decode_jpeg(stream).astype(np.int16)
        assert served.shape == (h, w, 3)  # edge tiles at their exact size
        expected = reference[y0 : y0 + h, x0 : x0 + w]
        inside = mask[y0 : y0 + h, x0 : x0 + w]
        assert np.array_equal(served[inside], expected[inside]), (tile.tx, tile.ty)
        # at the seams, 4:2:0 chroma upsampling reads other neighbours (this noisy texture: < 32)
        assert int(np.abs(served - expected).max()) <= (32 if subsample else 0)
        assert np.array_equal(padded[:h, :w][inside], served[inside].astype(np.uint8))


def test_rgb_coded_tiles_stay_rgb(tmp_path: Path) -> None:
    """Photometric RGB (Aperio): the components are R, G, B; the output says so (Adobe)."""
    pixels = texture(600, 300)
    src = write_jpeg_tiff(
        tmp_path / "src.tif",
        pixels,
        SOURCE_TILE,
        libjpeg(80, subsample=False),
        photometric=6,
        subsampling=(1, 1),
    )
    level = probe(src)
    assert level.colorspace == "JCS_YCbCr"
    rgb = write_jpeg_tiff(
        tmp_path / "rgb.tif", pixels, SOURCE_TILE, libjpeg(80, subsample=False), photometric=2
    )
    assert probe(rgb).colorspace == "JCS_RGB"
    for tile in retile(probe(rgb), tmp_path):
        assert jm.ADOBE_RGB in (tile.exact or tile.padded)[:40]


@pytest.mark.parametrize(
    ("encoder", "reason"),
    [(sampled("4:1:1"), "multiple of the MCU"), (libjpeg(75, progressive=True), "baseline")],
    ids=["mcu-32x8", "progressive"],
)
def test_sources_that_do_not_qualify(tmp_path: Path, encoder: object, reason: str) -> None:
    src = write_jpeg_tiff(
        tmp_path / "src.tif",
        texture(500, 300),
        SOURCE_TILE,
        encoder,  # type: ignore[arg-type]
        shared_tables=False,
    )
    with pytest.raises(NotRetilable, match=reason):
        probe(src)


def test_other_tables_in_a_later_tile(tmp_path: Path) -> None:
    def encode(tile: np.ndarray, index: int) -> bytes:
        return libjpeg(60 if index == 3 else 75)(tile, index)

    src = write_jpeg_tiff(
        tmp_path / "src.tif", texture(1000, 300), SOURCE_TILE, encode, shared_tables=False
    )
    with pytest.raises(NotRetilable, match="quantization tables"):
        list(retile(probe(src), tmp_path))


def test_quality_estimate() -> None:
    for quality in (30, 50, 75, 85, 95):
        stream = libjpeg(quality)(texture(64, 64), 0)
        assert jm.estimate_quality(jm.quant_tables(stream)[0]) == quality
