"""A band's steps (importer/dctsteps.py): every output row assembled once its source rows are
transcoded, each source row transcoded once, whatever the band's rows and workers; level 1's
rows of the band's own source rows handed on, in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cytotile.importer import coefhalf, dctsteps
from cytotile.importer.dctlevel import Coding, codec
from cytotile.importer.retile import probe
from tests.helpers.jpegtiff import libjpeg, texture, write_jpeg_tiff

lib = codec()
pytestmark = pytest.mark.skipif(lib is None, reason="the C codec is not built")


@pytest.fixture
def coding(tmp_path: Path) -> Iterator[Coding]:
    """A level of 240-pixel tiles, 5 x 6 of them: 5 x 6 output rows of 256 (the last cut)."""
    src = write_jpeg_tiff(tmp_path / "src.tif", texture(1100, 1400), 240, libjpeg(75))
    assert lib is not None
    made = Coding(probe(src), lib)
    yield made
    made.close()


def tiles(coding: Coding, rows: range, helpers: int) -> list[tuple[int, int, bytes, bytes | None]]:
    return [(t.tx, t.ty, t.data, t.exact) for t in dctsteps.band(coding, rows, helpers)]


@pytest.mark.parametrize("helpers", [0, 1, 3])
def test_a_band_gives_its_rows_whatever_its_workers(coding: Coding, helpers: int) -> None:
    """The same tiles, row-major, with no worker or several; a band of some rows gives those
    rows' tiles as the whole level's band does."""
    whole = tiles(coding, range(6), 0)
    assert [(tx, ty) for tx, ty, *_ in whole] == [(x, y) for y in range(6) for x in range(5)]
    assert tiles(coding, range(6), helpers) == whole
    for rows in (range(0, 1), range(2, 4), range(5, 6)):
        part = tiles(coding, rows, helpers)
        assert part == [t for t in whole if t[1] in rows]


def test_level_1_of_the_bands_own_rows_in_order(coding: Coding) -> None:
    """With level 1 made by the transcoding, a band hands on the source rows whose top is in it,
    in order; the rows before it (its first output row's, transcoded again) are not."""
    level = coding.level
    halves = coefhalf.for_level(level, 0)
    assert halves is not None
    coding.halves = halves
    rows = range(2, 6)  # from y = 512: source rows 2 (480-720: its top before the band) to 5
    list(dctsteps.band(coding, rows, 1))
    handed = sorted(halves._ready)  # made and waiting for the lower tiers, by source row
    own = [sy for sy in range(level.n_ty) if sy * level.tile_height >= rows.start * 256]
    assert handed == [sy for sy in own if sy < halves.made]
