"""The probe's own reading of a TIFF page's tags: the same level as tifffile's reading, for
classic TIFF and BigTIFF in either byte order, the real samples too; anything unexpected left
to tifffile."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

from cytotile.importer import jpeglevel, tiffhead
from tests.helpers.jpegtiff import texture
from tests.helpers.samples import SAMPLES


def by_tifffile(monkeypatch: pytest.MonkeyPatch, path: Path, page: int = 0) -> object:
    with monkeypatch.context() as m:
        m.setattr(tiffhead, "page_tags", lambda *_: None)
        return tiffhead.page(path, page)


@pytest.mark.parametrize("bigtiff", [False, True])
@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("grey", [False, True])
def test_the_same_page_as_tifffile_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bigtiff: bool, byteorder: str, grey: bool
) -> None:
    pixels = texture(600, 500)[:, :, :1] if grey else texture(600, 500)
    path = tmp_path / "tiled.tif"
    with tifffile.TiffWriter(path, bigtiff=bigtiff, byteorder=byteorder) as tif:
        tif.write(np.zeros((64, 64, 3), np.uint8))  # a page before: the IFD chain walked
        tif.write(
            pixels, tile=(256, 256), compression="jpeg", photometric="minisblack" if grey else "rgb"
        )
    assert tiffhead.page_tags(path, 1) is not None
    assert tiffhead.page(path, 1) == by_tifffile(monkeypatch, path, 1)
    level = jpeglevel.probe(path, 1)
    assert (level.width, level.height, level.tile_width) == (600, 500, 256)
    assert len(level.offsets) == 6


@pytest.mark.parametrize(
    "name",
    [
        "CMU-1-Small-Region.svs",
        "small.svs",
        "boxes.tiff",
        "libvips_sample.tif",
        "multipage_rgb.tif",
        "test3-DAPI.ndpi",
        "viv-multi-channel.ome.tif",
    ],
)
def test_the_samples_read_alike(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"no sample {name}")
    assert tiffhead.page(path, 0) == by_tifffile(monkeypatch, path, 0)
    if name.endswith(".ndpi"):
        assert tiffhead.page_tags(path, 0) is None  # its intervals: tifffile's
    if name.endswith(".svs"):  # JPEG tiles: read here
        assert {322, 324, 325, 347} <= (tiffhead.page_tags(path, 0) or {}).keys()


def test_unexpected_files_are_left_to_tifffile(tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 1 << 30))  # an IFD past the end
    assert tiffhead.page_tags(path, 0) is None
    path.write_bytes(b"not a tiff at all")
    assert tiffhead.page_tags(path, 0) is None
    path.write_bytes(b"II*\x00\x08\x00\x00\x00\x01\x00")  # cut inside the IFD
    assert tiffhead.page_tags(path, 0) is None
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, texture(300, 300), tile=(256, 256), compression="jpeg")
    assert tiffhead.page_tags(good, 5) is None  # no such page
    data = bytearray(good.read_bytes())
    for cut in range(0, len(data), 97):  # truncated anywhere: a page or None, never an error
        good.write_bytes(data[:cut])
        tiffhead.page_tags(good, 0)
