"""The DCT path writes its tiles straight into the pyramid: no spool file or temporary directory,
and a tile that does not qualify leaves nothing behind (the caller then re-encodes)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.jpegtiff import libjpeg, texture, write_jpeg_tiff


def pyramid(src: Path, out: Path, workdir: Path) -> None:
    from cytotile.importer.jpegpath import write_jpeg_pyramid
    from cytotile.importer.retile import probe
    from cytotile.pyramid import normalized_sizes
    from cytotile.tiff.layout import PyramidHeader

    level = probe(src)
    sizes = normalized_sizes(level.width, level.height)
    header = PyramidHeader(level.width, level.height, len(sizes), n_samples=3)
    write_jpeg_pyramid(level, out, header, sizes, 85, workdir, reserve=48)


def test_no_spool_and_the_pyramid_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import tifffile

    src = write_jpeg_tiff(tmp_path / "slide.tif", texture(700, 520), 240, libjpeg(75))
    workdir = tmp_path / "work"
    workdir.mkdir()
    made: list[Any] = []
    real = tempfile.TemporaryDirectory

    def spy(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryDirectory", spy)
    pyramid(src, tmp_path / "pyramid.tif", workdir)
    assert made == [] and list(workdir.iterdir()) == []
    with tifffile.TiffFile(src) as original, tifffile.TiffFile(tmp_path / "pyramid.tif") as ours:
        assert len(ours.pages) == 3
        level0 = ours.pages[0].asarray()
        assert level0.shape == (520, 700, 3)
        diff = np.abs(level0.astype(int) - original.pages[0].asarray()).max(axis=2)
        inside = np.ones(diff.shape, bool)  # off both grids' tile edges (chroma upsampling)
        for edge in (*range(240, 720, 240), *range(256, 720, 256)):
            inside[max(0, edge - 8) : edge + 8] = inside[:, max(0, edge - 8) : edge + 8] = False
        assert diff[inside].max() == 0  # the source's own pixels
        assert [p.shape[:2] for p in ours.pages] == [(520, 700), (260, 350), (130, 175)]


def test_nothing_left_when_a_tile_does_not_qualify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-tiled tile with other tables ends the DCT path (the caller re-encodes): the partly
    written pyramid is removed."""
    from cytotile.importer import jpegpath
    from cytotile.importer.retile import NotRetilable, RetiledTile

    src = write_jpeg_tiff(tmp_path / "slide.tif", texture(600, 300), 240, libjpeg(75))
    workdir = tmp_path / "work"
    workdir.mkdir()
    real = jpegpath.retile

    def other_tables(*args: Any, **kwargs: Any) -> Any:
        for n, tile in enumerate(real(*args, **kwargs)):
            yield RetiledTile(tile.tx, tile.ty, tile.tables + b"x" * n, tile.data, tile.exact)

    monkeypatch.setattr(jpegpath, "retile", other_tables)
    with pytest.raises(NotRetilable, match="other tables"):
        pyramid(src, tmp_path / "pyramid.tif", workdir)
    assert list(workdir.iterdir()) == [] and not (tmp_path / "pyramid.tif").exists()


def test_two_conversions_write_the_same_bytes(tmp_path: Path) -> None:
    """The rows of the tiers go in an order the sizes fix, not the threads' (an object store's
    ETag of the pyramid is the same after an import again)."""
    src = write_jpeg_tiff(tmp_path / "slide.tif", texture(1500, 1300), 240, libjpeg(75))
    pyramid(src, tmp_path / "a.tif", tmp_path)
    pyramid(src, tmp_path / "b.tif", tmp_path)
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()
