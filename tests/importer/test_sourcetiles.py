"""The lower tiers' input: a row of source tiles halved tile by tile is the 2x2 mean of the
row laid out and cropped (odd last row and column paired with themselves); the tiles' markers
rewritten as libtiff reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytotile.importer.sourcetiles import halve, halve_tiles, image_parts


@pytest.mark.parametrize(
    ("height", "width", "samples"),
    [(48, 160, 3), (47, 160, 3), (48, 151, 3), (31, 129, 3), (1, 1, 1), (33, 144, 1)],
)
def test_halve_tiles_is_the_halved_strip(height: int, width: int, samples: int) -> None:
    tile_h, tile_w = 48, 32  # multiples of the MCU, as source tiles are
    n = -(-width // tile_w)
    rng = np.random.default_rng(height * 1000 + width)
    tiles = rng.integers(0, 256, (n, tile_h, tile_w, samples), dtype=np.uint8)
    strip = tiles.transpose(1, 0, 2, 3).reshape(tile_h, n * tile_w, samples)[:height, :width]
    expected = halve(np.ascontiguousarray(strip))
    got = halve_tiles(tiles.copy(), height, width)
    assert got.shape == ((height + 1) // 2, (width + 1) // 2, samples)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize(("height", "width"), [(48, 160), (47, 151), (20, 16), (48, 32), (5, 70)])
def test_image_parts_are_the_cropped_pixels(height: int, width: int) -> None:
    """Every pixel inside the image once, none of the tiles' padding; a level narrower than
    one tile (a DICOM of 16x16 on 32x48 frames) has only the cropped tile."""
    tile_h, tile_w = 48, 32
    n = -(-width // tile_w)
    rng = np.random.default_rng(height * 1000 + width)
    tiles = rng.integers(0, 256, (n, tile_h, tile_w, 3), dtype=np.uint8)
    strip = tiles.transpose(1, 0, 2, 3).reshape(tile_h, n * tile_w, 3)[:height, :width]
    parts = image_parts(tiles, height, width)
    assert all(part.flags.c_contiguous and part.ndim == 3 for part in parts)
    assert sum(part.shape[0] * part.shape[1] for part in parts) == height * width
    got = np.concatenate([part.reshape(-1, 3) for part in parts])
    expected = strip.reshape(-1, 3)
    for band in range(3):  # the same pixels (in another order): the same histogram
        assert np.array_equal(np.bincount(got[:, band], minlength=256),
                              np.bincount(expected[:, band], minlength=256))  # fmt: skip


@pytest.mark.parametrize("photometric", [6, 2])
def test_markers_rewritten_once_per_header(tmp_path: Path, photometric: int) -> None:
    """The APPn rewriting libtiff's reading needs is reused while tiles share their header and
    redone when it changes (other Huffman tables, another JFIF): always what it would be."""
    import pyvips

    from cytotile.importer import jpegmarkers as jm
    from cytotile.importer.retile import probe
    from cytotile.importer.sourcetiles import SourceTiles
    from tests.helpers.jpegtiff import libjpeg, texture, write_jpeg_tiff

    pixels = texture(64, 32)
    src = write_jpeg_tiff(tmp_path / "s.tif", pixels, 32, libjpeg(80), photometric=photometric)
    image = pyvips.Image.new_from_array(pixels[:, :32]).copy(interpretation="srgb")
    plain = bytes(image.jpegsave_buffer(Q=80))  # JFIF APP0, standard tables
    optimized = bytes(image.jpegsave_buffer(Q=80, optimize_coding=True, keep="none"))
    rewrite = jm.mark_rgb if photometric == 2 else jm.drop_app
    with SourceTiles(probe(src)) as source:
        for stream in (plain, plain, optimized, optimized, plain, optimized):
            assert source._prepared(stream) == rewrite(stream)
