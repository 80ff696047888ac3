"""Pixel comparisons shared by the tests that check served images against originals."""

from __future__ import annotations

import numpy as np


def mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two images of the same shape."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def box_downsample(pixels: np.ndarray, times: int) -> np.ndarray:
    """Tier ``times`` of the normalized pyramid: halve with ceil, by 2x2 means (edges padded by
    copy), as the converter does."""
    out = pixels.astype(np.float64)
    for _ in range(times):
        h, w = out.shape[:2]
        out = np.pad(out, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        out = (out[0::2, 0::2] + out[1::2, 0::2] + out[0::2, 1::2] + out[1::2, 1::2]) / 4
    return out
