"""Working buffers carved from one huge-page-aligned allocation (importer/buffers.py), and a
level's first planes made early, in a thread of their own (``Coding.prepare_planes``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytotile.importer import _jpegdct
from cytotile.importer.buffers import HUGE_PAGE, touched, zeroed
from cytotile.importer.dctlevel import Coding
from cytotile.importer.jpeglevel import probe
from tests.helpers.jpegtiff import sampled, texture, write_jpeg_tiff


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


def test_touched_arrays_are_the_same_and_zero() -> None:
    arrays = zeroed([(60, 300, 64)] * 3, "int16")
    assert touched(arrays) is arrays and not any(a.any() for a in arrays)


def test_planes_prepared_early_are_the_first_planes_of_their_size(tmp_path: Path) -> None:
    path = write_jpeg_tiff(tmp_path / "tiled.tif", texture(600, 500), 240, sampled("4:2:0"))
    level = probe(path)
    coding = Coding(level, _jpegdct)
    try:
        coding.prepare_planes(level.n_tx * 240, 240)
        first = coding.planes(level.n_tx * 240, 240)  # the prepared ones
        shapes = [(30, 90, 64), (15, 45, 64), (15, 45, 64)]  # 4:2:0, 3 tiles of 240 across
        assert [p.shape for p in first] == shapes and not any(p.any() for p in first)
        again = coding.planes(level.n_tx * 240, 240)  # made anew: the prepared ones are taken
        assert all(a is not b and not a.any() for a, b in zip(again, first, strict=True))
        coding.prepare_planes(480, 240)  # another size: not these
        other = coding.planes(level.n_tx * 240, 240)
        assert [p.shape for p in other] == shapes
    finally:
        coding.close()
