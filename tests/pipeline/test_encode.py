"""Encoding and resizing."""

from __future__ import annotations

import numpy as np
import pytest
import pyvips

from cytotile.errors import NotAcceptable
from cytotile.pipeline.encode import Format, encode, format_of_extension, resize


def decode(data: bytes) -> np.ndarray:
    array = pyvips.Image.new_from_buffer(data, "").numpy()
    return array[..., None] if array.ndim == 2 else array


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("bands", [1, 3])
def test_encode_round_trip(fmt: Format, bands: int) -> None:
    pixels = np.linspace(0, 255, 40 * 30 * bands).astype(np.uint8).reshape(30, 40, bands)
    out = decode(encode(pixels, fmt, 95))
    if fmt is Format.WEBP and bands == 1:  # WebP has no grey mode: decoded as equal RGB bands
        out = out[..., :1]
    assert out.shape == pixels.shape
    assert np.abs(out.astype(int) - pixels.astype(int)).mean() < 2


def test_png_keeps_16_bits_others_reduce() -> None:
    pixels = (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8, 1)
    assert np.array_equal(decode(encode(pixels, Format.PNG)), pixels)
    assert decode(encode(pixels, Format.JPEG)).dtype == np.uint8
    assert decode(encode(pixels, Format.WEBP)).dtype == np.uint8


@pytest.mark.parametrize("size", [(1, 1), (99, 67), (256, 199), (300, 200), (301, 1000)])
def test_resize_is_exact(size: tuple[int, int]) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (201, 300, 3), dtype=np.uint8)
    out = resize(pixels, *size)
    assert (out.shape[1], out.shape[0], out.shape[2]) == (*size, 3) and out.dtype == np.uint8


def test_resize_16_bits_and_bands() -> None:
    pixels = np.full((50, 40, 2), 60000, np.uint16)
    out = resize(pixels, 20, 25)
    assert out.shape == (25, 20, 2) and out.dtype == np.uint16
    assert abs(int(out.mean()) - 60000) < 5
    assert resize(pixels, 40, 50) is pixels


def test_extensions() -> None:
    assert format_of_extension(".JPG") is Format.JPEG
    with pytest.raises(NotAcceptable):
        format_of_extension(".bmp")
