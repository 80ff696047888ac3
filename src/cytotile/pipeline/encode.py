"""Output formats, encoding (JPEG with libjpeg-turbo via simplejpeg; PNG and WebP with libvips)
and resizing (libvips, Lanczos)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cytotile.errors import NotAcceptable

if TYPE_CHECKING:
    import numpy as np


class Format(StrEnum):
    JPEG = "image/jpeg"
    PNG = "image/png"
    WEBP = "image/webp"

    @property
    def media_type(self) -> str:
        return self.value

    @property
    def max_bits(self) -> int:
        return 16 if self is Format.PNG else 8


EXTENSIONS = {".jpg": Format.JPEG, ".jpeg": Format.JPEG, ".png": Format.PNG, ".webp": Format.WEBP}


def format_of_extension(ext: str) -> Format:
    try:
        return EXTENSIONS[ext.lower()]
    except KeyError:
        raise NotAcceptable(f"extension {ext!r} is not served; use .jpg, .png or .webp") from None


@dataclass
class Output:
    data: bytes
    media_type: str
    passthrough: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def to_vips(pixels: np.ndarray) -> Any:
    import pyvips

    image = pyvips.Image.new_from_array(pixels)
    if pixels.dtype.itemsize == 2:
        image = image.copy(interpretation="grey16" if image.bands == 1 else "rgb16")
    elif image.bands == 1:
        image = image.copy(interpretation="b-w")
    return image


def from_vips(image: Any) -> np.ndarray:
    """(height, width, bands), whatever the size (numpy() drops axes of length 1)."""
    array: np.ndarray = image.numpy()
    return array.reshape(image.height, image.width, image.bands)


def _resized(image: Any, width: int, height: int) -> Any:
    hscale, vscale = width / image.width, height / image.height
    kernel = "lanczos3" if hscale < 1 or vscale < 1 else "cubic"
    resized = image.resize(hscale, vscale=vscale, kernel=kernel)
    if (resized.width, resized.height) != (width, height):  # rounding: pad or cut one pixel
        resized = resized.embed(0, 0, width, height, extend="copy")
    return resized


def resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Exactly ``width`` x ``height`` (any number of bands, uint8 or uint16)."""
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels
    import numpy as np

    out = from_vips(_resized(to_vips(pixels), width, height))
    return out.astype(pixels.dtype, copy=False) if out.dtype != pixels.dtype else np.asarray(out)


def encode(pixels: np.ndarray, fmt: Format, quality: int = 85) -> bytes:
    """Encode (h, w, 1|3) pixels; 16-bit pixels only as PNG (else reduced to 8 bits)."""
    import numpy as np

    if pixels.dtype != np.uint8 and fmt is not Format.PNG:
        pixels = (pixels >> 8).astype(np.uint8)
    if fmt is Format.JPEG:
        import simplejpeg

        grey = pixels.shape[2] == 1
        # 4:4:4: a decoded answer (a thumbnail, a window, a rendered tile) is a few hundred
        # pixels a side; halving its chroma would cost it more than the bytes it saves
        return bytes(
            simplejpeg.encode_jpeg(
                np.ascontiguousarray(pixels),
                quality=quality,
                colorspace="GRAY" if grey else "RGB",
                colorsubsampling="Gray" if grey else "444",
            )
        )
    return _save(to_vips(np.ascontiguousarray(pixels)), fmt, quality)


def _save(image: Any, fmt: Format, quality: int) -> bytes:
    if fmt is Format.JPEG:  # as simplejpeg's: 4:4:4, baseline
        return bytes(image.jpegsave_buffer(Q=quality, subsample_mode="off"))
    if fmt is Format.PNG:
        return bytes(image.pngsave_buffer(compression=6))
    return bytes(image.webpsave_buffer(Q=quality))


def encode_resized(pixels: np.ndarray, width: int, height: int, fmt: Format, quality: int) -> bytes:
    """``pixels`` resized to ``width`` x ``height`` and encoded by libvips in one pipeline: the
    resized image is computed strip by strip as the encoder asks for it, never held whole (an
    upscaled answer costs its encoded bytes, not its pixels)."""
    import numpy as np

    if pixels.dtype != np.uint8 and fmt is not Format.PNG:
        pixels = (pixels >> 8).astype(np.uint8)
    return _save(_resized(to_vips(np.ascontiguousarray(pixels)), width, height), fmt, quality)
