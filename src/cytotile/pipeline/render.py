"""From request parameters and an image to pixels: plane selection, reading, intensity bounds,
colours; the identity test that allows serving stored bytes untouched."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cytotile.errors import BadParameter
from cytotile.pipeline import colormaps
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import (
    Intensity,
    IntensityMode,
    Manipulation,
    PlaneSelection,
    Reduction,
    signed_offset,
)
from cytotile.pipeline.process import ChannelRender
from cytotile.pyramid import Region

if TYPE_CHECKING:
    import numpy as np

AUTO = (IntensityMode.AUTO_IMAGE, IntensityMode.AUTO_PLANE)


@dataclass(frozen=True)
class Selection:
    channels: tuple[int, ...]
    z: int
    t: int
    #: every (z, t) to reduce into one plane, and how; () for the single plane (z, t)
    reduced: tuple[tuple[int, int], ...] = ()
    z_reduction: Reduction = Reduction.MAX
    t_reduction: Reduction = Reduction.MAX


def _check(name: str, values: tuple[int, ...], count: int) -> None:
    bad = [v for v in values if v >= count]
    if bad:
        raise BadParameter(f"{name}: {bad[0]} is outside 0..{count - 1}")


def select(view: ImageView, planes: PlaneSelection) -> Selection:
    """Channels (default: all), focal plane (default: the median) and timepoint (default: 0);
    several focal planes or timepoints are reduced (projection)."""
    h = view.header
    n = view.n_channels
    channels = planes.channels if planes.channels is not None else tuple(range(n))
    _check("channels", channels, n)
    z = planes.z_slice if planes.z_slice is not None else (h.depth - 1) // 2
    t = planes.timepoint if planes.timepoint is not None else 0
    zs, ts = planes.z_slices or (z,), planes.timepoints or (t,)
    _check("z_slices", zs, h.depth)
    _check("timepoints", ts, h.duration)
    reduced = tuple((zz, tt) for tt in ts for zz in zs) if len(zs) * len(ts) > 1 else ()
    return Selection(channels, z, t, reduced, planes.z_reduction, planes.t_reduction)


def plane_of(view: ImageView, sel: Selection, c: int) -> tuple[int, int]:
    """(plane index in the pyramid, sample in that plane) of channel ``c``."""
    n_samples = view.header.n_samples
    return view.header.plane_index(c // n_samples, sel.z, sel.t), c % n_samples


def single_plane(view: ImageView, sel: Selection) -> int | None:
    """The pyramid plane when the selection is exactly one plane's samples in order."""
    h = view.header
    if sel.reduced or sel.channels != tuple(range(h.n_samples)) or h.n_concrete_channels != 1:
        return None
    return h.plane_index(0, sel.z, sel.t)


def read_stack(view: ImageView, sel: Selection, level: int, region: Region) -> np.ndarray:
    """(h, w, n) raw pixels of the selected channels, in selection order; several (z, t) are
    reduced: over Z first (``z_reduction``), then over T (``t_reduction``)."""
    if not sel.reduced:
        return _read_one(view, sel, level, region)

    by_t: dict[int, list[np.ndarray]] = {}
    for z, t in sel.reduced:
        one = replace(sel, z=z, t=t, reduced=())
        by_t.setdefault(t, []).append(_read_one(view, one, level, region))
    over_z = [reduce(stacks, sel.z_reduction) for stacks in by_t.values()]
    return reduce(over_z, sel.t_reduction)


def reduce(stacks: list[np.ndarray], how: Reduction) -> np.ndarray:
    """Pixel-wise minimum, median or maximum of same-shaped stacks (vectorized)."""
    import numpy as np

    if len(stacks) == 1:
        return stacks[0]
    if how in (Reduction.MAX, Reduction.MIN):
        ufunc = np.maximum if how is Reduction.MAX else np.minimum
        extreme: np.ndarray = ufunc.reduce(stacks)
        return extreme
    median: np.ndarray = np.rint(np.median(np.stack(stacks), axis=0)).astype(stacks[0].dtype)
    return median


def _read_one(view: ImageView, sel: Selection, level: int, region: Region) -> np.ndarray:
    import numpy as np

    plane = single_plane(view, sel)
    if plane is not None:
        return view.reader.read_region(plane, level, region)
    cache: dict[int, np.ndarray] = {}
    bands = []
    for c in sel.channels:
        p, s = plane_of(view, sel, c)
        if p not in cache:
            cache[p] = view.reader.read_region(p, level, region)
        bands.append(cache[p][..., s])
    return np.stack(bands, axis=2)


def per_channel(values: tuple[object, ...], n: int, name: str) -> list[object]:
    if len(values) == 1:
        return list(values) * n
    if len(values) != n:
        raise BadParameter(f"{name}: {len(values)} values for {n} channels (give 1 or {n})")
    return list(values)


def _bound(
    value: Intensity, is_min: bool, view: ImageView, c: int, band: np.ndarray | None
) -> float:
    if isinstance(value, int) and not isinstance(value, IntensityMode):
        return value + signed_offset(view.meta)  # given in the file's values
    if value is IntensityMode.FULL:  # 0 to 2^significant_bits - 1, in the file's values
        if view.header.pixel_type in ("uint8", "uint16"):
            top = (1 << significant_bits(view)) - 1
            return signed_offset(view.meta) + (0 if is_min else top)
        value = IntensityMode.AUTO_IMAGE  # 32-bit samples: their range, as before
    if value in AUTO and view.header.pixel_type == "uint8":
        offset = signed_offset(view.meta)  # int8: the file's 0..255, as PIMS (negatives: 0)
        return offset if is_min else 255 + offset
    if value in (IntensityMode.AUTO_IMAGE, IntensityMode.STRETCH_IMAGE) or band is None:
        lo, hi = view.channel_range(c)
        return lo if is_min else hi
    found = band.min() if is_min else band.max()
    return float(found) if view.header.pixel_type.startswith("float") else int(found)


def is_identity(view: ImageView, sel: Selection, manip: Manipulation, bits: int) -> bool:
    """Whether rendering would give back the stored samples unchanged."""
    if single_plane(view, sel) is None or view.header.n_samples not in (1, 3):
        return False
    if view.header.pixel_type not in ("uint8", "uint16"):  # 32-bit samples always rendered
        return False
    if signed_offset(view.meta):  # signed samples are stored shifted: always rendered
        return False
    if manip.log or manip.filter or manip.colormaps or bits != view.bits:
        return False
    if len(sel.channels) == 1 and view.n_channels > 1:  # DEFAULT tints it (_colours)
        return False
    if any(g != 1.0 for g in manip.gammas):
        return False
    full = (1 << view.bits) - 1
    offset = signed_offset(view.meta) if not all(_auto(manip)) else 0
    for values, expected in ((manip.min_intensities, 0), (manip.max_intensities, full)):
        for value in values:
            if value is IntensityMode.FULL:
                if signed_offset(view.meta) or significant_bits(view) != view.bits:
                    return False
            elif isinstance(value, IntensityMode):
                if view.bits != 8 or value not in AUTO:
                    return False
            elif value + offset != expected:
                return False
    return True


def significant_bits(view: ImageView) -> int:
    """The image's significant bits (12 for a 12-bit image stored in 16), else the stored."""
    value = view.meta.get("significant_bits")
    return int(value) if isinstance(value, int) and 0 < value <= view.bits else view.bits


def _auto(manip: Manipulation) -> list[bool]:
    return [isinstance(v, IntensityMode) for v in manip.min_intensities + manip.max_intensities]


def channel_renders(
    view: ImageView, sel: Selection, manip: Manipulation, stack: np.ndarray | None
) -> list[ChannelRender]:
    n = len(sel.channels)
    mins = per_channel(manip.min_intensities, n, "min_intensities")
    maxs = per_channel(manip.max_intensities, n, "max_intensities")
    gammas = per_channel(manip.gammas, n, "gammas")
    cmaps = per_channel(manip.colormaps, n, "colormaps") if manip.colormaps else [None] * n
    rgb_image = view.header.n_samples == 3 and view.header.n_concrete_channels == 1
    if rgb_image and n == 3 and all(c == colormaps.NONE for c in cmaps):
        cmaps = [None] * n  # PIMS: the RGB samples untinted are the RGB image as it is
    out = []
    for k, c in enumerate(sel.channels):
        band = stack[..., k] if stack is not None else None
        lo = _bound(mins[k], True, view, c, band)  # type: ignore[arg-type]
        hi = _bound(maxs[k], False, view, c, band)  # type: ignore[arg-type]
        if lo > hi:
            raise BadParameter(f"min_intensities: {lo} is greater than max_intensities {hi}")
        color, cmap = _colours(view, c, n, rgb_image, cmaps[k])  # type: ignore[arg-type]
        out.append(ChannelRender(lo, hi, float(gammas[k]), color, cmap))  # type: ignore[arg-type]
    return out


def _colours(
    view: ImageView, c: int, n: int, rgb_image: bool, cid: str | None
) -> tuple[colormaps.RGB | None, str | None]:
    """(colour, colormap) of channel ``c`` among ``n`` selected, from its canonical colormap
    id (None: DEFAULT). DEFAULT: the channel's colour (metadata, else the palette), as PIMS
    tints even one channel selected alone (the red sample of an RGB image is red); grey for
    the only channel of a one-channel image, or a white one; ``!DEFAULT``: that colour
    inverted (white when grey); NONE: grey (white ramps added when merged)."""
    if cid == colormaps.NONE:
        return (None if n == 1 else colormaps.COLORS["WHITE"]), None
    if cid not in (None, colormaps.DEFAULT, "!" + colormaps.DEFAULT):
        return None, cid
    color = None
    if n > 1 or view.n_channels > 1:
        name = colormaps.DEFAULT_PALETTE[c % len(colormaps.DEFAULT_PALETTE)]
        meta_color = None if rgb_image else view.channel_color(c)
        color = (meta_color and colormaps.hex_rgb(meta_color)) or colormaps.COLORS[name]
        if n == 1 and color == colormaps.COLORS["WHITE"]:
            color = None  # a white channel alone is grey: one band, as before
    if cid == "!" + colormaps.DEFAULT:
        return None, "!" + colormaps.short_hex(color or colormaps.COLORS["WHITE"]).upper()
    return color, None
