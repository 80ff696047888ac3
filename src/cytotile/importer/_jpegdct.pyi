"""Baseline JPEG entropy coding of quantized DCT coefficients (C extension, ``_jpegdct.c``).

Planes: one ``int16`` array per component, shape ``(rows, cols, 64)`` (blocks; coefficients in
natural order, DC first), the last axis contiguous. Errors are ``ValueError``.
"""

import numpy as np

def decode(stream: bytes, planes: tuple[np.ndarray, ...]) -> bytes:
    """Entropy-decodes a baseline JPEG stream into the planes (component k into ``planes[k]``;
    blocks outside a plane dropped); returns the stream's quantization tables, 4 x 64
    little-endian uint16 in natural order (an undefined table id left zero)."""

def encode(
    planes: tuple[np.ndarray, ...],
    sampling: tuple[tuple[int, int], ...],
    mcus: tuple[int, int],
    tables: tuple[tuple[bytes, bytes, bytes, bytes], ...],
) -> bytes:
    """Entropy-codes ``mcus = (mcus_x, mcus_y)`` interleaved MCUs; ``tables[k]`` is
    ``(dc_codes, dc_sizes, ac_codes, ac_sizes)`` (256 little-endian uint32 codes, 256 uint8
    sizes). Returns the entropy-coded segment (0xFF stuffed, padded with 1-bits)."""

def gather(
    planes: tuple[np.ndarray, ...],
    sampling: tuple[tuple[int, int], ...],
    mcus: tuple[int, int],
    counts: np.ndarray,
) -> None:
    """Adds the symbols ``encode`` would emit to ``counts`` (int64, ``(len(planes), 2, 256)``:
    DC symbols at ``[k, 0]``, AC symbols at ``[k, 1]``)."""
