"""A slide's associated images stored as OME ``Image`` elements (``label``, ``macro``...,
:mod:`cytotile.formats.microscopy.omeimages`), served as the image's associated images."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cytotile.formats.base import AssociatedInfo, Source

if TYPE_CHECKING:
    import pyvips

#: an associated image larger than this is not read into memory (not one of a slide's)
MAX_ASSOCIATED_PIXELS = 100_000_000


class WithAssociated(Source):
    """``inner`` (the image's planes) with associated images read from other series."""

    def __init__(self, inner: Source, path: Path, series: dict[str, int]) -> None:
        self.inner = inner
        self.metadata = inner.metadata
        self.tiff_page = inner.tiff_page
        self.path = path
        self.series = series

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        return self.inner.plane(c, z, t)

    def associated(self, name: str) -> pyvips.Image | None:
        index = self.series.get(name)
        return None if index is None else read_series_plane(self.path, index)

    def close(self) -> None:
        self.inner.close()


def read_series_plane(path: Path, index: int) -> pyvips.Image:
    """The one plane of series ``index``, in memory (the file's readers closed)."""
    from cytotile.formats.microscopy.tiffseries import SeriesPlanes

    planes = SeriesPlanes(path, index)
    try:
        lay = planes.layout
        if lay.width * lay.height > MAX_ASSOCIATED_PIXELS:
            raise ValueError(f"an associated image of {lay.width}x{lay.height} pixels")
        return planes.read(0, 0, 0).copy_memory()
    finally:
        planes.close()


def with_associated(source: Source, path: Path, series: dict[str, int]) -> Source:
    """``source`` with the associated images of ``series`` (name -> series index) described in
    its metadata; ``source`` itself when there are none."""
    if not series:
        return source
    import tifffile

    with tifffile.TiffFile(path) as tif:
        for name, index in series.items():
            shape = dict(zip(tif.series[index].axes, tif.series[index].shape, strict=True))
            source.metadata.associated[name] = AssociatedInfo(
                width=int(shape["X"]), height=int(shape["Y"]), n_channels=int(shape.get("S", 1))
            )
    return WithAssociated(source, path, series)
