"""How many threads re-tile a level: one for a level of at most BAND_ROWS output rows (a small
slide: a second band would cost its own coefficient planes and a seam decoded twice), more for
a taller one; the tiles are the same either way."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cytotile.importer import retile as retile_module
from cytotile.importer.retile import probe, retile
from tests.helpers.jpegtiff import libjpeg, texture, write_jpeg_tiff


@pytest.mark.parametrize(("n_ty", "threads"), [(1, 1), (12, 1), (16, 1), (17, 2), (118, 8)])
def test_threads_a_level_is_worth(n_ty: int, threads: int) -> None:
    assert retile_module.worth(n_ty) == threads


class Pools:
    """ThreadPoolExecutor, noting the threads each pool is made with."""

    def __init__(self) -> None:
        self.made: list[int] = []

    def __call__(self, threads: int, **kwargs: Any) -> ThreadPoolExecutor:
        self.made.append(threads)
        return ThreadPoolExecutor(threads, **kwargs)


@pytest.mark.parametrize(("band_rows", "pools"), [(16, []), (1, [3])], ids=["small", "tall"])
def test_a_small_level_in_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, band_rows: int, pools: list[int]
) -> None:
    """A level of 3 output rows: no thread pool while BAND_ROWS is 16; a pool of 3 threads (of
    the 12 CPUs, 4 a band: CPUS_A_BAND) when it is 1 row. The same tiles, in the same order, as
    one thread gives."""
    src = write_jpeg_tiff(tmp_path / "src.tif", texture(520, 700), 240, libjpeg(75))
    level = probe(src)
    expected = [(t.tx, t.ty, t.padded, t.exact) for t in retile(level, tmp_path, threads=1)]
    spy = Pools()
    monkeypatch.setattr(retile_module, "workers", lambda: 12)
    monkeypatch.setattr(retile_module, "BAND_ROWS", band_rows)
    monkeypatch.setattr(retile_module, "ThreadPoolExecutor", spy)
    assert [(t.tx, t.ty, t.padded, t.exact) for t in retile(level, tmp_path)] == expected
    assert spy.made == pools
