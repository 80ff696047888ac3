"""OpenSlide level 0 streamed into libvips through a virtual tiled TIFF (used for SVS JPEG 2000)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytotile.formats.openslide.stream import TILE, level0_image, rgb_bytes
from tests.helpers import synth
from tests.helpers.samples import sample


def _openslide(path: Path) -> np.ndarray:
    import openslide

    with openslide.OpenSlide(str(path)) as slide:
        return np.asarray(slide.read_region((0, 0), 0, slide.dimensions))[:, :, :3]


def test_stream_equals_openslide() -> None:
    import openslide

    path = sample("CMU-1-Small-Region.svs")
    with openslide.OpenSlide(str(path)) as slide:
        image = level0_image(slide)
        assert (image.width, image.height, image.bands, image.format) == (2220, 2967, 3, "uchar")
        np.testing.assert_array_equal(synth.to_numpy(image), _openslide(path))


def test_stream_of_a_slide_smaller_than_a_tile(tmp_path: Path) -> None:
    import openslide

    base = synth.to_numpy(synth.tissue(TILE // 3, TILE // 5))
    path = synth.write_svs(tmp_path / "tiny.svs", base)
    with openslide.OpenSlide(str(path)) as slide:
        np.testing.assert_array_equal(synth.to_numpy(level0_image(slide)), base)


@pytest.mark.parametrize("side", [5, 16, 17, 300])
def test_stream_of_a_slide_of_a_few_pixels(tmp_path: Path, side: int) -> None:
    """libvips refuses tiles much larger than the image: small slides get smaller tiles."""
    import openslide

    base = synth.to_numpy(synth.tissue(side, side + 3))
    path = synth.write_svs(tmp_path / "few.svs", base)
    with openslide.OpenSlide(str(path)) as slide:
        image = level0_image(slide)
        assert (image.width, image.height) == (side, side + 3)
        np.testing.assert_array_equal(synth.to_numpy(image), base)


def test_transparent_pixels_are_composited_on_the_background() -> None:
    from PIL import Image

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    rgba[0, 1] = (200, 100, 0, 128)
    out = np.frombuffer(rgb_bytes(Image.fromarray(rgba, "RGBA")), np.uint8).reshape(2, 2, 3)
    assert out[0, 0].tolist() == [10, 20, 30]
    assert out[1, 1].tolist() == [255, 255, 255]  # fully transparent: background
    assert out[0, 1].tolist() == [227, 177, 127]  # half: halfway to white
