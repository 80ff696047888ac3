"""Old-style JPEG TIFF (Compression 6, TIFF 6.0 section 22, deprecated since 1995 but still found
in old scanners' and microscopes' files): decoded by libtiff's OJPEG codec through Pillow
(libvips' libtiff here is built without it).

Both layouts libtiff reads are accepted: tables in the JPEGQTables / JPEGDCTables /
JPEGACTables tags with bare scan data per strip or tile, or a whole JPEG stream named by
JPEGInterchangeFormat. Colours are what libtiff's RGBA interface gives, TIFF 6.0's colorimetry:
YCbCr samples converted with the file's YCbCrCoefficients and ReferenceBlackWhite (a file
declaring studio range, 16-235, is expanded to full range). The first page is the image; it is
decoded whole (Pillow has no region access to it), in the isolated conversion step whose memory
limit bounds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_TIFF, Format, Source
from cytotile.formats.common import VipsSource, add_note, base_metadata
from cytotile.formats.tiff import structure, tags
from cytotile.formats.tiff.structure import TiffInfo

OJPEG = 6
#: photometric -> samples: RGB, YCbCr (Pillow's libtiff reader takes a grey old-style JPEG for
#: RGB and fails on it: grey stays refused, by structure.unsupported_reason)
PHOTOMETRIC = {2: 3, 6: 3}


def ojpeg_page(info: TiffInfo) -> bool:
    page = info.pages[0]
    return (
        info.vendor is None
        and page.compression == OJPEG
        and page.bits == 8
        and PHOTOMETRIC.get(page.photometric) == page.samples
    )


def decode(path: Path) -> Any:
    """Page 0 through Pillow (libtiff), as a 3-band 8-bit libvips image."""
    import numpy as np
    import pyvips
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the declared size was checked (safety.check_tiff)
    try:
        with Image.open(path) as im:
            im.load()
            pixels = np.ascontiguousarray(np.asarray(im.convert("RGB")))
    except (OSError, ValueError, SyntaxError) as exc:
        raise FormatError(f"old-style JPEG data cannot be decoded: {exc}") from exc
    height, width = pixels.shape[:2]
    return pyvips.Image.new_from_memory(pixels.data, width, height, 3, "uchar").copy_memory()


class OjpegTiffFormat(Format):
    id = "OJPEGTIFF"
    name = "Old-style JPEG TIFF"
    order = ORDER_TIFF + 70
    remarks = "TIFF with old-style JPEG compression (6), RGB or YCbCr; its first page."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return structure.is_tiff(head) and ojpeg_page(structure.inspect(path))

    @classmethod
    def open(cls, path: Path) -> Source:
        info = structure.inspect(path)
        if not ojpeg_page(info):
            raise FormatError("not an old-style JPEG TIFF of 8-bit RGB or YCbCr samples")
        page = info.pages[0]
        safety.check_tiff(info, [page], max_pixels=None)
        raw: dict[str, Any] = dict(info.raw)
        raw["tiff.PageCount"] = info.n_pages
        add_note(raw, "old-style JPEG decoded by libtiff")
        if page.photometric == 6:
            add_note(raw, "YCbCr converted to RGB (TIFF 6.0 ReferenceBlackWhite)")
        px, py = tags.physical_sizes(raw)
        description = raw.get("tiff.ImageDescription")
        meta = base_metadata(
            cls.id,
            page.width,
            page.height,
            3,
            "uint8",
            physical_size_x=px,
            physical_size_y=py,
            acquired_at=tags.acquisition_date(raw),
            description=description if isinstance(description, str) else "",
            raw_metadata=raw,
        )
        decoded: list[Any] = []

        def load() -> Any:
            if not decoded:
                image = decode(path)
                if (image.width, image.height) != (page.width, page.height):
                    raise FormatError(
                        f"old-style JPEG decoded as {image.width}x{image.height}, "
                        f"the page declares {page.width}x{page.height}"
                    )
                decoded.append(image)
            return decoded[0]

        return VipsSource(meta, load)
