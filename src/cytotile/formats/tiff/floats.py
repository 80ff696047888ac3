"""Floating-point TIFF (SampleFormat 3: 16, 32 or 64-bit IEEE samples), grey or RGB, one page or
a stack of identical pages, read with tifffile (libvips does not load 64-bit float TIFFs).

Each sample becomes a channel of 32-bit float planes, as the serving pyramid stores 32-bit
data (lossless for 16 and 32-bit samples; 64-bit samples are rounded to the nearest 32-bit
float, which keeps 24 significant bits: recorded in ``cytotile.Conversion``). An RGB page is
three channels named R, G, B in red, green and blue (composited additively, as fluorescence
is); identical pages are a Z stack (T when the file's own axes say time). Values are kept as
they are (no rescaling): the viewer's min/max intensities (``AUTO_IMAGE`` by default) map them
to the screen. A page is decoded whole (tifffile gives no region access to most codecs): the
pixel limit is checked on its declared size first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_TIFF, Format, Source
from cytotile.formats.common import add_note
from cytotile.formats.tiff import structure, tags
from cytotile.formats.tiff.structure import TiffInfo

#: photometric interpretations whose samples are intensities (min-is-black grey, RGB)
PHOTOMETRIC = {1: 1, 2: 3}
BITS = (16, 32, 64)


def float_page(info: TiffInfo) -> bool:
    """A first page of float grey or RGB samples, no vendor signature."""
    page = info.pages[0]
    return (
        info.vendor is None
        and page.sample_format == 3
        and page.bits in BITS
        and PHOTOMETRIC.get(page.photometric) == page.samples
    )


def stack_layout(path: Path, info: TiffInfo) -> tuple[int, str]:
    """(planes, "Z" or "T"): every page like the first makes a stack, else page 0 alone."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        first = tif.pages.first
        kind = (first.shape, first.dtype, first.photometric)
        pages = list(tif.pages)
        same = all((p.shape, p.dtype, getattr(p, "photometric", None)) == kind for p in pages)
        axes = str(tif.series[0].axes) if tif.series else ""
    if len(pages) < 2 or not same:
        return 1, "Z"
    return len(pages), "T" if axes[:1] == "T" else "Z"


class FloatTiffFormat(Format):
    id = "FLOATTIFF"
    name = "Floating-point TIFF"
    order = ORDER_TIFF + 80
    remarks = "16/32/64-bit float grey or RGB samples, as 32-bit float channels; page stacks."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return structure.is_tiff(head) and float_page(structure.inspect(path))

    @classmethod
    def open(cls, path: Path) -> Source:
        from cytotile.formats.microscopy.planes import (
            PlaneSource,
            array_to_vips,
            channel_list,
            check_planes,
            stack_metadata,
        )

        info = structure.inspect(path)
        if not float_page(info):
            raise FormatError("not a floating-point grey or RGB TIFF")
        page = info.pages[0]
        n_planes, axis = stack_layout(path, info)
        check_planes(cls.id, n_planes)
        safety.check_tiff(info, list(info.pages) if n_planes > 1 else [page], max_pixels=None)
        raw: dict[str, Any] = dict(info.raw)
        raw["tiff.PageCount"] = info.n_pages
        if page.bits == 64:
            add_note(raw, "64-bit float samples rounded to 32-bit floats")
        if n_planes > 1:
            add_note(raw, f"{n_planes} identical pages read as {axis} planes")
        n_c = page.samples
        px, py = tags.physical_sizes(raw)
        meta = stack_metadata(
            cls.id,
            page.width,
            page.height,
            n_concrete_channels=n_c,
            depth=n_planes if axis == "Z" else 1,
            duration=n_planes if axis == "T" else 1,
            pixel_type="float32",
            significant_bits=32,
            physical_size_x=px,
            physical_size_y=py,
            acquired_at=tags.acquisition_date(raw),
            raw_metadata=raw,
        )
        names = list("RGB") if n_c == 3 else []
        colors = ["#FF0000", "#00FF00", "#0000FF"] if n_c == 3 else []
        meta.channels = channel_list(n_c, names, colors, [])  # type: ignore[arg-type]

        def read(c: int, z: int, t: int) -> Any:
            import numpy as np
            import tifffile

            with tifffile.TiffFile(path) as tif:
                target = tif.pages[t if axis == "T" else z]
                data = target.asarray()
                contiguous = int(getattr(target.keyframe, "planarconfig", 1)) == 1
                if n_c > 1:  # contiguous samples: (Y, X, S); separate planes: (S, Y, X)
                    data = data[..., c] if contiguous else data[c]
            return array_to_vips(np.asarray(data, dtype=np.float32), "float32")

        return PlaneSource(meta, read)
