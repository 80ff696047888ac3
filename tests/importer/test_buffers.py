"""Working buffers carved from one huge-page-aligned allocation (importer/buffers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cytotile.importer.buffers import HUGE_PAGE, zeroed


@pytest.mark.parametrize(
    "shapes",
    [
        [(60, 300, 64)] * 3,  # CMU-1's planes: 6.9 MB, one allocation
        [(60, 300, 64), (30, 150, 64), (30, 150, 64)],  # 4:2:0
        [(30, 30, 64)] * 3,  # a tile's: under a huge page, separate arrays
        [(3, 5, 7), (1,), (2, 2, 64)],  # sizes that are no multiple of 64 bytes
    ],
)
def test_zeroed_arrays_are_zero_contiguous_and_apart(shapes: list[tuple[int, ...]]) -> None:
    arrays = zeroed(shapes, "int16")
    assert [a.shape for a in arrays] == shapes
    for k, a in enumerate(arrays):
        assert a.dtype == np.int16 and a.flags.c_contiguous and a.flags.writeable
        assert not a.any()
        a[...] = k + 1  # writing one array touches no other
    for k, a in enumerate(arrays):
        assert (a == k + 1).all()


def test_large_sets_start_on_a_huge_page() -> None:
    arrays = zeroed([(60, 300, 64)] * 3, "int16")
    assert arrays[0].ctypes.data % HUGE_PAGE == 0
    assert all(a.ctypes.data % 64 == 0 for a in arrays)  # each on a cache line
    ends = [a.ctypes.data + a.nbytes for a in arrays]
    assert all(e <= b.ctypes.data for e, b in zip(ends, arrays[1:], strict=False))
