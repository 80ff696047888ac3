"""Pixels decoded in memory by Pillow or imagecodecs, handed to the converter as libvips images.

These decoders have no region access: the whole plane is decoded once (its size is checked
before, :mod:`cytotile.formats.safety`), copied into one libvips image and the decoder's own
buffer released, so memory peaks at about twice the plane while it is copied, then once.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytotile.errors import ConversionError

if TYPE_CHECKING:
    import pyvips

#: Pillow modes whose samples go to libvips as they are: mode -> (bands, libvips format)
PLAIN_MODES = {
    "L": (1, "uchar"),
    "LA": (2, "uchar"),
    "RGB": (3, "uchar"),
    "RGBA": (4, "uchar"),
    "I;16": (1, "ushort"),
}
INTERPRETATION = {1: "b-w", 2: "b-w", 3: "srgb", 4: "srgb"}


@contextmanager
def pillow_image(path: Path) -> Iterator[Any]:
    """``PIL.Image.open`` without Pillow's own size guard: the declared size was checked by
    :mod:`cytotile.formats.safety` (by the format's own rules) before this runs."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(path) as image:
                yield image
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def from_pillow(image: Any) -> pyvips.Image:
    """A decoded Pillow image as a libvips image (8-bit grey/RGB(A), 16-bit grey); palettes and
    bilevel images are expanded first."""
    if image.mode in ("P", "PA"):
        image = image.convert(
            "RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB"
        )
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode == "I":
        import numpy as np

        return from_array(np.asarray(image).clip(0, 65535).astype(np.uint16))
    if image.mode not in PLAIN_MODES:
        raise ConversionError(f"unsupported decoded pixel mode {image.mode!r}")
    bands, fmt = PLAIN_MODES[image.mode]
    return _vips(image.tobytes(), image.width, image.height, bands, fmt)


def from_array(array: Any) -> pyvips.Image:
    """A (h, w) or (h, w, bands) uint8/uint16 numpy array as a libvips image."""
    import numpy as np

    if array.dtype not in (np.uint8, np.uint16):
        raise ConversionError(f"unsupported decoded sample type {array.dtype}")
    height, width = array.shape[:2]
    bands = 1 if array.ndim == 2 else array.shape[2]
    fmt = "uchar" if array.dtype == np.uint8 else "ushort"
    return _vips(np.ascontiguousarray(array).tobytes(), width, height, bands, fmt)


def _vips(data: bytes, width: int, height: int, bands: int, fmt: str) -> pyvips.Image:
    import pyvips

    image = pyvips.Image.new_from_memory(data, width, height, bands, fmt)
    interpretation = INTERPRETATION.get(bands, "multiband")
    if fmt == "ushort":
        interpretation = "grey16" if bands <= 2 else "rgb16"
    return image.copy(interpretation=interpretation)
