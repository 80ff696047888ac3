"""A multi-dimensional TIFF series (OME-TIFF, ImageJ hyperstack) as planes: tifffile maps every
(c, z, t) to its page (any DimensionOrder, multi-file OME included); libvips decodes the page,
streaming (sequential access, bounded memory), or tifffile when libvips cannot (codecs such as
ZStandard, contiguous ImageJ data without one IFD per plane)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats.microscopy.planes import array_to_vips, to_served
from cytotile.formats.microscopy.rawplanes import RawPlanes
from cytotile.formats.tiff.structure import DECODABLE

#: axes of a series cytotile maps to planes; any other axis must have length 1
PLANE_AXES = "TZC"


@dataclass
class SeriesLayout:
    axes: str  # tifffile's, without Y, X, S
    shape: tuple[int, ...]
    width: int
    height: int
    n_samples: int
    sample_type: str
    sizes: dict[str, int]  # T, Z, C

    def page_number(self, c: int, z: int, t: int) -> int:
        """Index in the series' flattened page list of plane (c, z, t)."""
        import numpy as np

        where = {"C": c, "Z": z, "T": t}
        index = tuple(where.get(a, 0) for a in self.axes)
        return int(np.ravel_multi_index(index, self.shape)) if self.shape else 0


def layout(series: Any) -> SeriesLayout:
    """The plane layout of a tifffile series; ``FormatError`` for axes cytotile cannot map."""
    axes, shape = str(series.axes), tuple(int(n) for n in series.shape)
    dims = dict(zip(axes, shape, strict=True))
    if "Y" not in dims or "X" not in dims:
        raise FormatError(f"TIFF series without Y and X axes ({axes})")
    n_samples = dims.get("S", 1)
    plane_axes = [a for a in axes if a not in "YXS"]
    extra = [a for a in plane_axes if a not in PLANE_AXES and dims[a] > 1]
    if extra:
        raise FormatError(f"TIFF series axes {axes}: {''.join(extra)} cannot be mapped to C, Z, T")
    if n_samples not in (1, 3):
        raise FormatError(f"{n_samples} samples per pixel are not supported")
    return SeriesLayout(
        axes="".join(plane_axes),
        shape=tuple(dims[a] for a in plane_axes),
        width=dims["X"],
        height=dims["Y"],
        n_samples=n_samples,
        sample_type=str(series.dtype),
        sizes={a: dims.get(a, 1) for a in PLANE_AXES},
    )


class SeriesPlanes:
    """Reads planes of series ``index`` of the TIFF at ``path`` (tifffile kept open)."""

    def __init__(self, path: Path, index: int = 0) -> None:
        import tifffile

        self.path = path
        self.tif = tifffile.TiffFile(path)
        try:
            self.series = self.tif.series[index]
            self.layout = layout(self.series)
            self.pages: list[Any] = list(self.series.pages)
        except Exception:
            self.tif.close()
            raise
        self._memmap: Any = None
        self.raw = RawPlanes()

    def read(self, c: int, z: int, t: int) -> Any:
        import pyvips

        n = self.layout.page_number(c, z, t)
        lay = self.layout
        if len(self.pages) < self._n_planes():
            return array_to_vips(self._contiguous()[n], lay.sample_type)
        page = self.pages[n]
        if page is None:
            raise FormatError(f"plane c={c} z={z} t={t}: its page is missing (multi-file OME?)")
        keyframe = getattr(page, "keyframe", page)
        path = Path(page.parent.filehandle.path)
        if int(keyframe.compression) in DECODABLE and keyframe.photometric in (1, 2):
            image = pyvips.Image.tiffload(
                str(path), page=int(page.index), access="sequential", fail_on="error"
            )
            return to_served(image, lay.sample_type)
        return self._by_segments(page)

    def _by_segments(self, page: Any) -> Any:
        """A page in a codec libvips lacks (ZStandard, JPEG 2000...): tifffile decodes it tile by
        tile (or strip by strip) into a canvas, file-backed when large."""
        lay = self.layout
        out = self.raw.canvas((lay.height, lay.width, lay.n_samples), lay.sample_type)
        separate = int(page.keyframe.planarconfig) == 2
        for data, index, shape in page.segments():
            if data is None:
                continue
            sample, _, y, x, _ = index
            h, w = min(shape[1], lay.height - y), min(shape[2], lay.width - x)
            piece = data.reshape(shape)[0, :h, :w]
            if separate:
                out[y : y + h, x : x + w, sample] = piece[..., 0]
            else:
                out[y : y + h, x : x + w] = piece
        return self.raw.image(out, lay.sample_type)

    def _n_planes(self) -> int:
        n = 1
        for size in self.layout.shape:
            n *= size
        return n

    def _contiguous(self) -> Any:
        """Planes of an ImageJ file storing them contiguously after a single IFD."""
        if self._memmap is None:
            import tifffile

            try:
                data = tifffile.memmap(str(self.path), series=0, mode="r")
            except Exception as exc:
                raise FormatError(f"contiguous TIFF data cannot be mapped: {exc}") from exc
            lay = self.layout
            self._memmap = data.reshape(-1, lay.height, lay.width, lay.n_samples)
        return self._memmap

    def close(self) -> None:
        self.tif.close()
        self.raw.close()
