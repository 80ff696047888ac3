"""Where the DCT path's tiles wait for the pyramid's index: in memory for a small level (no
temporary directory, no spool file), in a spool file under the work directory for a large one;
the pyramid is the same bytes either way, and nothing is left behind."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.jpegtiff import libjpeg, texture, write_jpeg_tiff


def pyramid(src: Path, out: Path, workdir: Path) -> bytes:
    from cytotile.importer.jpegpath import write_jpeg_pyramid
    from cytotile.importer.retile import probe
    from cytotile.pyramid import normalized_sizes
    from cytotile.tiff.layout import PyramidHeader

    level = probe(src)
    sizes = normalized_sizes(level.width, level.height)
    header = PyramidHeader(level.width, level.height, len(sizes), n_samples=3)
    write_jpeg_pyramid(level, out, header, sizes, 85, workdir, reserve=48)
    return out.read_bytes()


class Spy:
    """tempfile.TemporaryDirectory, noting each directory it makes."""

    def __init__(self) -> None:
        self.made: list[Path] = []
        self.real = tempfile.TemporaryDirectory

    def __call__(self, *args: Any, **kwargs: Any) -> tempfile.TemporaryDirectory[str]:
        made = self.real(*args, **kwargs)
        self.made.append(Path(made.name))
        return made


@pytest.mark.parametrize("in_memory", [True, False], ids=["memory", "spool"])
def test_tiles_in_memory_or_spooled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    from cytotile.importer import jpegpath

    src = write_jpeg_tiff(tmp_path / "slide.tif", texture(700, 520), 240, libjpeg(75))
    workdir = tmp_path / "work"
    workdir.mkdir()
    reference = pyramid(src, tmp_path / "reference.tif", workdir)  # as configured
    spy = Spy()
    monkeypatch.setattr(jpegpath.tempfile, "TemporaryDirectory", spy)
    monkeypatch.setattr(jpegpath, "MEMORY_TILES_BYTES", src.stat().st_size if in_memory else 0)
    assert pyramid(src, tmp_path / "pyramid.tif", workdir) == reference
    if in_memory:
        assert spy.made == []
    else:  # one spool directory under the work directory, removed
        assert [p.parent for p in spy.made] == [workdir]
    assert list(workdir.iterdir()) == []


def test_spool_removed_when_a_tile_does_not_qualify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-tiled tile with other tables ends the DCT path (the caller re-encodes): the spool
    file and its directory are closed and removed all the same."""
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
    monkeypatch.setattr(jpegpath, "MEMORY_TILES_BYTES", 0)
    with pytest.raises(NotRetilable, match="other tables"):
        pyramid(src, tmp_path / "pyramid.tif", workdir)
    assert list(workdir.iterdir()) == []
