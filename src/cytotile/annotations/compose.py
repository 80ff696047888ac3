"""Composition on the output grid: masks, alpha bands, strokes and fills painted over pixels,
and encoding with an alpha band. Geometries are already in output pixels (see output.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cytotile.annotations import raster
from cytotile.annotations.colors import Color
from cytotile.annotations.geometry import Annotation
from cytotile.pipeline import encode, outputs
from cytotile.pipeline.encode import Format

if TYPE_CHECKING:
    import numpy as np
    from shapely.geometry.base import BaseGeometry


def mask_pixels(
    annotations: list[Annotation], shapes: list[BaseGeometry], width: int, height: int
) -> np.ndarray:
    import numpy as np

    colors = [a.fill or Color(255, 255, 255) for a in annotations]
    grey = all(c.is_grey for c in colors)
    out = np.zeros((height, width, 1 if grey else 3), dtype=np.uint8)
    for color, shape in zip(colors, shapes, strict=True):
        inside = raster.cover(shape, width, height)
        out[inside] = color.r if grey else color.rgb
    return out


def crop_alpha(
    shapes: list[BaseGeometry], width: int, height: int, transparency: int, dtype: np.dtype
) -> np.ndarray | None:
    """The alpha band (None: opaque everywhere)."""
    import numpy as np

    if transparency == 0:
        return None
    full = 65535 if dtype == np.uint16 else 255
    inside = np.zeros((height, width), dtype=bool)
    for shape in shapes:
        raster.cover(shape, width, height, inside)
    outside = round((1 - transparency / 100) * full)
    return np.where(inside, full, outside).astype(dtype)[..., None]


def draw(
    pixels: np.ndarray, annotations: list[Annotation], shapes: list[BaseGeometry], point_cross: str
) -> np.ndarray:
    """Paint fills and strokes over ``pixels`` (h, w, 1|3; uint8, or uint16 for a 16-bit
    window), in order; only the covered pixels are blended (no float copy of the image)."""
    import numpy as np

    height, width = pixels.shape[:2]
    colors = [c for a in annotations for c in (a.fill, a.stroke) if c is not None]
    out = pixels
    if out.shape[2] == 1 and not all(c.is_grey for c in colors):
        out = np.repeat(out, 3, axis=2)
    elif not out.flags.writeable:
        out = out.copy()
    for a, shape in zip(annotations, shapes, strict=True):
        layers = []
        if a.fill is not None:
            layers.append((raster.cover(shape, width, height), a.fill))
        if a.stroke is not None:
            layers.append(
                (raster.stroke(shape, a.stroke_width, width, height, point_cross), a.stroke)
            )
        for inside, color in layers:
            value = np.asarray(color.rgb if out.shape[2] == 3 else color.rgb[:1], np.float32)
            value *= 257 if out.dtype == np.uint16 else 1  # 16-bit windows: 255 -> 65535
            weight = color.a / 255
            blended = out[inside].astype(np.float32) * (1 - weight) + value * weight
            out[inside] = np.rint(blended).astype(out.dtype)
    return out


def encode_alpha(pixels: np.ndarray, alpha: np.ndarray | None, opts: outputs.Options) -> bytes:
    """Encode with an alpha band when there is one (JPEG: flattened on black)."""
    import numpy as np

    if alpha is None:
        return encode.encode(pixels, opts.fmt, opts.quality)
    if opts.fmt is Format.JPEG:
        full = 65535 if pixels.dtype == np.uint16 else 255
        flat = (pixels.astype(np.float32) * (alpha.astype(np.float32) / full)).round()
        return encode.encode(flat.astype(pixels.dtype), opts.fmt, opts.quality)
    with_alpha = np.ascontiguousarray(np.concatenate([pixels, alpha], axis=2))
    if opts.fmt is Format.WEBP and with_alpha.dtype == np.uint16:
        with_alpha = (with_alpha >> 8).astype(np.uint8)
    image = encode.to_vips(with_alpha)
    sixteen = with_alpha.dtype == np.uint16
    if pixels.shape[2] == 1:
        kind = "grey16" if sixteen else "b-w"
    else:
        kind = "rgb16" if sixteen else "srgb"
    image = image.copy(interpretation=kind)
    if opts.fmt is Format.PNG:
        return bytes(image.pngsave_buffer(compression=6))
    return bytes(image.webpsave_buffer(Q=opts.quality))
