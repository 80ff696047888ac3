"""bench/protocols.py: the IIIF and DZI URLs name the same stored tiles as the PIMS ones, and
one short measured run against the real server adds the three rows (not a measurement)."""

from __future__ import annotations

from pathlib import Path

from bench.app_path import UPLOAD_ID
from bench.common import Section
from bench.protocols import add_protocol_rows, tile_urls
from bench.tiles import sample_tiles

from cytotile.importer.convert import convert
from cytotile.manifest import pyramid_key
from cytotile.pyramid import Pyramid
from tests.helpers.deployed import rgb_source


def test_urls_name_the_same_tiles() -> None:
    pyramid = Pyramid(1200, 900)
    urls = tile_urls(pyramid, [(0, 4, 3), (2, 1, 0)])
    assert urls["PIMS tile"][0].endswith("/normalized-tile/level/0/tx/4/ty/3.jpg")
    assert urls["IIIF tile"][0].endswith("/1024,768,176,132/176,132/0/default.jpg")
    assert urls["DZI tile"][0].endswith("_files/11/4_3.jpeg")
    assert urls["IIIF tile"][1].endswith("/1024,0,176,900/44,225/0/default.jpg")
    assert urls["DZI tile"][1].endswith("_files/9/1_0.jpeg")
    assert len({len(v) for v in tile_urls(pyramid, sample_tiles(pyramid, 50)).values()}) == 1


def test_one_short_run(tmp_path: Path) -> None:
    out = tmp_path / pyramid_key(UPLOAD_ID)
    out.parent.mkdir(parents=True)
    convert(rgb_source(1200, 900), out, quality=90)
    section = Section("HTTP", "vs DESIGN floor")
    add_protocol_rows(section, tmp_path, 1200, 900, seconds=1, requests=30)
    assert section.errors == []
    rows = {row.name: row for row in section.rows}
    assert set(rows) == {f"{p} tile (same tiles): requests/s" for p in ("PIMS", "IIIF", "DZI")}
    assert all(row.value and row.value > 0 for row in rows.values())
    assert rows["PIMS tile (same tiles): requests/s"].extra["vs_pims"] == 1.0
