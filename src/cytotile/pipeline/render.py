"""From request parameters and an image to pixels: plane selection, reading, intensity bounds,
colours; the identity test that allows serving stored bytes untouched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cytotile.errors import BadParameter
from cytotile.pipeline import colormaps
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import Intensity, IntensityMode, Manipulation, PlaneSelection
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


def select(view: ImageView, planes: PlaneSelection) -> Selection:
    """Channels (default: all), focal plane (default: the median) and timepoint (default: 0)."""
    h = view.header
    n = view.n_channels
    channels = planes.channels if planes.channels is not None else tuple(range(n))
    bad = [c for c in channels if c >= n]
    if bad:
        raise BadParameter(f"channels: {bad[0]} is outside 0..{n - 1}")
    z = planes.z_slice if planes.z_slice is not None else (h.depth - 1) // 2
    if z >= h.depth:
        raise BadParameter(f"z_slices: {z} is outside 0..{h.depth - 1}")
    t = planes.timepoint if planes.timepoint is not None else 0
    if t >= h.duration:
        raise BadParameter(f"timepoints: {t} is outside 0..{h.duration - 1}")
    return Selection(channels, z, t)


def plane_of(view: ImageView, sel: Selection, c: int) -> tuple[int, int]:
    """(plane index in the pyramid, sample in that plane) of channel ``c``."""
    n_samples = view.header.n_samples
    return view.header.plane_index(c // n_samples, sel.z, sel.t), c % n_samples


def single_plane(view: ImageView, sel: Selection) -> int | None:
    """The pyramid plane when the selection is exactly one plane's samples in order."""
    h = view.header
    if sel.channels != tuple(range(h.n_samples)) or h.n_concrete_channels != 1:
        return None
    return h.plane_index(0, sel.z, sel.t)


def read_stack(view: ImageView, sel: Selection, level: int, region: Region) -> np.ndarray:
    """(h, w, n) raw pixels of the selected channels, in selection order."""
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


def _bound(value: Intensity, is_min: bool, view: ImageView, c: int, band: np.ndarray | None) -> int:
    if isinstance(value, int) and not isinstance(value, IntensityMode):
        return value
    if value in AUTO and view.bits == 8:
        return 0 if is_min else 255
    if value in (IntensityMode.AUTO_IMAGE, IntensityMode.STRETCH_IMAGE) or band is None:
        lo, hi = view.channel_range(c)
        return lo if is_min else hi
    return int(band.min()) if is_min else int(band.max())


def is_identity(view: ImageView, sel: Selection, manip: Manipulation, bits: int) -> bool:
    """Whether rendering would give back the stored samples unchanged."""
    if single_plane(view, sel) is None or view.header.n_samples not in (1, 3):
        return False
    if manip.log or manip.filter or manip.colormaps or bits != view.bits:
        return False
    if any(g != 1.0 for g in manip.gammas):
        return False
    full = (1 << view.bits) - 1
    for values, expected in ((manip.min_intensities, 0), (manip.max_intensities, full)):
        for value in values:
            if isinstance(value, IntensityMode):
                if view.bits != 8 or value not in AUTO:
                    return False
            elif value != expected:
                return False
    return True


def channel_renders(
    view: ImageView, sel: Selection, manip: Manipulation, stack: np.ndarray | None
) -> list[ChannelRender]:
    n = len(sel.channels)
    mins = per_channel(manip.min_intensities, n, "min_intensities")
    maxs = per_channel(manip.max_intensities, n, "max_intensities")
    gammas = per_channel(manip.gammas, n, "gammas")
    cmaps = per_channel(manip.colormaps, n, "colormaps") if manip.colormaps else [None] * n
    rgb_image = view.header.n_samples == 3 and view.header.n_concrete_channels == 1
    out = []
    for k, c in enumerate(sel.channels):
        band = stack[..., k] if stack is not None else None
        lo = _bound(mins[k], True, view, c, band)  # type: ignore[arg-type]
        hi = _bound(maxs[k], False, view, c, band)  # type: ignore[arg-type]
        if lo > hi:
            raise BadParameter(f"min_intensities: {lo} is greater than max_intensities {hi}")
        cmap = cmaps[k] if cmaps[k] != "NONE" else None
        color = None
        if n > 1 and cmap is None:
            name = colormaps.DEFAULT_PALETTE[c % len(colormaps.DEFAULT_PALETTE)]
            meta_color = None if rgb_image else view.channel_color(c)
            color = (meta_color and colormaps.hex_rgb(meta_color)) or colormaps.COLORS[name]
        out.append(ChannelRender(lo, hi, float(gammas[k]), color, cmap))  # type: ignore[arg-type]
    return out
