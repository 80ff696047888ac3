"""Pixel processing: per-channel intensity stretch, log, gamma, colouring, merge, filter.

Input is a raw stack ``(h, w, n)`` (uint8 or uint16), one band per requested channel; output is
``(h, w, 1)`` grey or ``(h, w, 3)`` RGB of uint8 (or uint16 when 16 bits are asked).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cytotile.pipeline import colormaps, filters

if TYPE_CHECKING:
    import numpy as np

LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class ChannelRender:
    """How one channel is rendered. ``color`` None: grey (white when merged with others);
    ``colormap``: a canonical colormap id, which wins over ``color``."""

    lo: float
    hi: float
    gamma: float = 1.0
    color: tuple[float, float, float] | None = None
    colormap: str | None = None


def stretch(values: np.ndarray, ch: ChannelRender, log: bool) -> np.ndarray:
    """Intensities to [0, 1] (float32): linear between lo and hi, then log, then gamma."""
    import numpy as np

    x = values.astype(np.float32)
    span = ch.hi - ch.lo
    v: np.ndarray = (
        (x > ch.lo).astype(np.float32) if span <= 0 else np.clip((x - ch.lo) / span, 0.0, 1.0)
    )
    if log:
        scale = max(span, 1.0)
        v = np.log1p(v * scale) / np.float32(np.log1p(scale))
    if ch.gamma != 1.0:
        v = np.power(v, np.float32(ch.gamma))
    return v.astype(np.float32, copy=False)


def stretched(values: np.ndarray, ch: ChannelRender, log: bool, coarse: bool = False) -> np.ndarray:
    """:func:`stretch` of integer samples through a lookup table: the arithmetic (and its
    ``pow``) runs once per possible value instead of once per pixel. ``coarse`` (8-bit
    output): the gamma of other samples through a 65536-step table of [0, 1] (under half an
    output level off) instead of a ``pow`` per pixel."""
    import numpy as np

    if values.dtype == np.uint8 or (values.dtype == np.uint16 and values.size > 65536):
        levels = np.arange(256 if values.dtype == np.uint8 else 65536, dtype=values.dtype)
        mapped: np.ndarray = stretch(levels, ch, log)[values]
        return mapped
    if coarse and not log and ch.gamma != 1.0:
        linear = stretch(values, replace(ch, gamma=1.0), False)
        index = (linear * np.float32(65535) + np.float32(0.5)).astype(np.uint16)
        powered: np.ndarray = gamma_table(ch.gamma)[index]
        return powered
    return stretch(values, ch, log)


@functools.lru_cache(maxsize=64)
def gamma_table(gamma: float) -> np.ndarray:
    """``(i / 65535) ** gamma`` for every i (float32), read-only."""
    import numpy as np

    levels = np.arange(65536, dtype=np.float32) / np.float32(65535)
    table: np.ndarray = np.power(levels, np.float32(gamma))
    table.setflags(write=False)
    return table


PRIMARIES = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def colorize(v: np.ndarray, ch: ChannelRender) -> np.ndarray:
    """A [0, 1] channel to (h, w, 3) RGB in [0, 1] (a colormap through its 256-entry table)."""
    import numpy as np

    if ch.colormap is not None:
        index = np.rint(v * 255).astype(np.uint8)
        mapped: np.ndarray = colormaps.lut(ch.colormap)[index]
        return mapped
    color = ch.color or (1.0, 1.0, 1.0)
    shaded: np.ndarray = v[..., None] * np.asarray(color, dtype=np.float32)
    return shaded


@functools.lru_cache(maxsize=1)
def _ramp() -> np.ndarray:
    """The 256 levels of a constant-colour table (``colormaps.lut``'s ramp), read-only."""
    import numpy as np

    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    ramp.setflags(write=False)
    return ramp


def additive(
    stack: np.ndarray, channels: list[ChannelRender], log: bool, coarse: bool
) -> np.ndarray:
    """Channels coloured and added, clipped to [0, 1]: (h, w, 3) float32. Summed band by band
    in planar buffers, skipping a colour's zero components (cyan adds to green and blue only):
    no (h, w, 3) temporary per channel. A constant-colour colormap (``RED``, ``#ff00ff``,
    ``!WHITE``...) at 8 bits goes through the 256 levels of its table (:func:`colorize`); at
    16 bits it shades the value itself, keeping every level; a named map: its table."""
    import numpy as np

    planar = np.zeros((3, *stack.shape[:2]), dtype=np.float32)
    for k, ch in enumerate(channels):
        v = stretched(stack[..., k], ch, log, coarse)
        ramp = (ch.color or (1.0, 1.0, 1.0), False) if ch.colormap is None else None
        if ch.colormap is not None:
            ramp = colormaps.constant(ch.colormap)
            if ramp is not None and coarse:
                index = np.rint(v * np.float32(255)).astype(np.uint8)
                v = _ramp()[255 - index if ramp[1] else index]
            elif ramp is not None and ramp[1]:
                v = np.float32(1.0) - v
        if ramp is None:  # a named map: its table
            planar += np.moveaxis(colorize(v, ch), -1, 0)
            continue
        for band, weight in enumerate(ramp[0]):
            if weight == 1.0:
                planar[band] += v
            elif weight:
                planar[band] += v * np.float32(weight)
    np.clip(planar, 0.0, 1.0, out=planar)
    return np.ascontiguousarray(np.moveaxis(planar, 0, -1))


def luminance(rgb: np.ndarray) -> np.ndarray:
    import numpy as np

    weights = np.asarray(LUMA, dtype=np.float32)
    grey: np.ndarray = (rgb[..., :3].astype(np.float32) * weights).sum(axis=-1, keepdims=True)
    return grey


def render(
    stack: np.ndarray,
    channels: list[ChannelRender],
    *,
    log: bool = False,
    filter_id: str | None = None,
    colorspace: str = "AUTO",
    bits: int = 8,
) -> np.ndarray:
    import numpy as np

    if stack.ndim != 3 or stack.shape[2] != len(channels):
        raise ValueError(f"stack of shape {stack.shape} for {len(channels)} channels")
    coarse = bits == 8
    grey_single = len(channels) == 1 and channels[0].color is None and not channels[0].colormap
    rgb = not channels[0].colormap and all(
        ch.color == PRIMARIES[k] and not ch.colormap for k, ch in enumerate(channels)
    )
    direct = grey_single or (len(channels) == 3 and rgb)
    if direct and filter_id is None and colorspace == "AUTO" and stack.dtype == np.uint8:
        # 8-bit in, one input band per output band: one integer lookup table per band
        levels = np.arange(256, dtype=np.uint8)
        luts = [quantize(stretch(levels, ch, log), bits) for ch in channels]
        return np.stack([lut[stack[..., k]] for k, lut in enumerate(luts)], axis=-1)
    if grey_single:
        out = stretched(stack[..., 0], channels[0], log, coarse)[..., None]
    elif len(channels) == 3 and rgb:  # each output band is one input band: no mixing
        out = np.stack(
            [stretched(stack[..., k], ch, log, coarse) for k, ch in enumerate(channels)], -1
        )
    else:
        out = additive(stack, channels, log, coarse)
    if filter_id is not None and filters.is_pixel(filter_id):
        from cytotile.pipeline import deconvolution

        out = deconvolution.apply(filter_id, out)  # PIMS: on the RGB (COLOR) rendering
    elif filter_id is not None:
        grey = out if out.shape[2] == 1 else luminance(out)
        grey8 = np.rint(grey * 255).astype(np.uint8)
        out = (grey8 > filters.threshold(filter_id, grey8)).astype(np.float32)
    if colorspace == "GRAY" and out.shape[2] == 3:
        out = luminance(out)
    elif colorspace == "COLOR" and out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return quantize(out, bits)


def render_rows(
    stack: np.ndarray,
    channels: list[ChannelRender],
    *,
    strip_pixels: int,
    log: bool = False,
    filter_id: str | None = None,
    colorspace: str = "AUTO",
    bits: int = 8,
) -> np.ndarray:
    """:func:`render` by strips of rows of about ``strip_pixels`` pixels: the float32 working
    copies exist for one strip at a time, never for the whole output. A threshold filter
    needs the whole image (its threshold is global): it renders in one piece; a colour
    deconvolution works pixel by pixel."""
    import numpy as np

    height, width = stack.shape[:2]
    rows = max(1, strip_pixels // max(1, width))
    kwargs = {"log": log, "filter_id": filter_id, "colorspace": colorspace, "bits": bits}
    global_filter = filter_id is not None and not filters.is_pixel(filter_id)
    if global_filter or height <= rows:
        return render(stack, channels, **kwargs)  # type: ignore[arg-type]
    first = render(stack[:rows], channels, **kwargs)  # type: ignore[arg-type]
    out = np.empty((height, width, first.shape[2]), dtype=first.dtype)
    out[:rows] = first
    for top in range(rows, height, rows):
        out[top : top + rows] = render(stack[top : top + rows], channels, **kwargs)  # type: ignore[arg-type]
    return out


def quantize(v: np.ndarray, bits: int) -> np.ndarray:
    import numpy as np

    out: np.ndarray = np.rint(v * (65535 if bits == 16 else 255))
    return out.astype(np.uint16 if bits == 16 else np.uint8)


def convert_colorspace(pixels: np.ndarray, colorspace: str) -> np.ndarray:
    """Identity renders still honour GRAY / COLOR."""
    import numpy as np

    out: np.ndarray = pixels
    if colorspace == "GRAY" and pixels.shape[2] == 3:
        out = np.rint(luminance(pixels)).astype(pixels.dtype)
    elif colorspace == "COLOR" and pixels.shape[2] == 1:
        out = np.repeat(pixels, 3, axis=2)
    return out
