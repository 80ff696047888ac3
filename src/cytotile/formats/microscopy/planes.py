"""What the microscopy formats share: a source of one libvips image per (c, z, t) plane, sample
types mapped to the served ones, PIMS's default channel colours."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cytotile.errors import FormatError
from cytotile.formats.base import ChannelInfo, ImageMetadata, Source
from cytotile.formats.common import add_note, decoding

if TYPE_CHECKING:
    import numpy as np
    import pyvips

#: served pixel type of each sample type: signed ones are shifted (order kept, bijective)
SERVED = {
    "uint8": "uint8",
    "int8": "uint8",
    "uint16": "uint16",
    "int16": "uint16",
    "int32": "uint32",
    "uint32": "uint32",
    "float32": "float32",
    "float64": "float32",  # rounded to the nearest 32-bit float (24 significant bits)
}
SHIFT = {"int8": 128, "int16": 32768, "int32": 2**31}
VIPS = {"uint8": "uchar", "uint16": "ushort", "uint32": "uint", "float32": "float"}
BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "float32": 32}
#: PIMS: a channel without a colour of its own gets one of these when 1 < C <= 6
PALETTE = ("#FF0000", "#00FF00", "#0000FF", "#00FFFF", "#FF00FF", "#FFFF00")
NAMED = {"red": "#FF0000", "green": "#00FF00", "lime": "#00FF00", "blue": "#0000FF"}
NAMED.update({"cyan": "#00FFFF", "magenta": "#FF00FF", "yellow": "#FFFF00"})
NAMED.update({"r": "#FF0000", "g": "#00FF00", "b": "#0000FF", "white": "#FFFFFF"})

MAX_PLANES = 10_000  # planes (C x Z x T) one image may hold
PlaneReader = Callable[[int, int, int], "pyvips.Image"]


def served_type(sample_type: str, raw: dict[str, Any]) -> str:
    """The pixel type the pyramid stores for a source sample type (``FormatError`` if none)."""
    try:
        served = SERVED[sample_type]
    except KeyError:
        raise FormatError(f"{sample_type} samples are not supported") from None
    if sample_type in SHIFT:
        add_note(raw, f"{sample_type} samples shifted by +{SHIFT[sample_type]} to {served}")
    if sample_type == "float64":
        add_note(raw, "64-bit float samples rounded to 32-bit floats")
    return served


def to_served(image: pyvips.Image, sample_type: str) -> pyvips.Image:
    """A decoded plane (libvips) in its served type: signed samples shifted, lazily."""
    served = SERVED[sample_type]
    if sample_type in SHIFT:
        wide = image.cast("double") + SHIFT[sample_type]  # exact for 32-bit integers
        return wide.cast(VIPS[served])
    if image.format != VIPS[served]:
        return image.cast(VIPS[served])
    return image


def array_to_vips(array: np.ndarray, sample_type: str) -> pyvips.Image:
    """A (h, w) or (h, w, s) numpy plane as a libvips image of the served type."""
    import numpy as np
    import pyvips

    served = SERVED[sample_type]
    if sample_type in SHIFT:
        array = (array.astype(np.int64) + SHIFT[sample_type]).astype(served)
    else:
        array = array.astype(served, copy=False)
    array = np.ascontiguousarray(array if array.ndim == 3 else array[..., None])
    h, w, bands = array.shape
    return pyvips.Image.new_from_memory(array.data, w, h, bands, VIPS[served])


def default_color(name: str | None, index: int, n_channels: int) -> str | None:
    """PIMS's inference: a colour name as channel name, else the palette when 1 < C <= 6."""
    if name and name.strip().lower() in NAMED:
        return NAMED[name.strip().lower()]
    if 1 < n_channels <= len(PALETTE):
        return PALETTE[index]
    return None


def channel_list(
    n_channels: int,
    names: list[str | None],
    colors: list[str | None],
    emissions: list[float | None],
    excitations: list[float | None] | None = None,
) -> list[ChannelInfo]:
    """Channels with the file's names and colours, PIMS's defaults for what it lacks."""
    out = []
    for c in range(n_channels):
        name = names[c] if c < len(names) else None
        color = colors[c] if c < len(colors) else None
        out.append(
            ChannelInfo(
                index=c,
                suggested_name=name or ("L" if n_channels == 1 else f"C{c}"),
                color=color or default_color(name, c, n_channels),
                emission_wavelength=emissions[c] if c < len(emissions) else None,
                excitation_wavelength=(excitations or [])[c]
                if c < len(excitations or [])
                else None,
            )
        )
    return out


def parsed_channels(n_channels: int, parsed: list[dict[str, Any]]) -> list[ChannelInfo]:
    """:func:`channel_list` from a reader's parsed channels (dicts of name, color, emission,
    excitation), one per channel or none."""
    found = parsed if len(parsed) == n_channels else []
    return channel_list(
        n_channels,
        [c["name"] for c in found],
        [c["color"] for c in found],
        [c["emission"] for c in found],
        [c["excitation"] for c in found],
    )


def check_planes(format_id: str, n_planes: int) -> None:
    """Each plane becomes a pyramid: a declared count beyond :data:`MAX_PLANES` is refused."""
    if n_planes > MAX_PLANES:
        raise FormatError(
            f"{format_id} declares {n_planes} planes (C x Z x T): more than the limit of "
            f"{MAX_PLANES}"
        )


def stack_metadata(format_id: str, width: int, height: int, **kw: Any) -> ImageMetadata:
    """Metadata of an image of C concrete channels of one sample each (or one RGB plane)."""
    n_samples = kw.pop("n_samples", 1)
    n_concrete = kw.pop("n_concrete_channels")
    pixel_type = kw.pop("pixel_type")
    sample_type = kw.pop("sample_type", None)
    check_planes(format_id, n_concrete * kw.get("depth", 1) * kw.get("duration", 1))
    return ImageMetadata(
        format_id=format_id,
        width=width,
        height=height,
        n_channels=n_concrete * n_samples,
        n_concrete_channels=n_concrete,
        n_samples=n_samples,
        pixel_type=pixel_type,
        significant_bits=kw.pop("significant_bits", None) or BITS[pixel_type],
        sample_type=sample_type if sample_type in SHIFT else None,
        **kw,
    )


class PlaneSource(Source):
    """A source whose planes come from ``read(c, z, t)``; the sample type is converted to the
    served one (``to_served``) unless the reader already did."""

    def __init__(
        self,
        metadata: ImageMetadata,
        read: PlaneReader,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.metadata = metadata
        self._read = read
        self._close = close

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        m = self.metadata
        if not (0 <= c < m.n_concrete_channels and 0 <= z < m.depth and 0 <= t < m.duration):
            if m.n_planes == 1:
                raise ValueError(f"no plane c={c} z={z} t={t}: the image has a single plane")
            sizes = f"C={m.n_concrete_channels} Z={m.depth} T={m.duration}"
            raise ValueError(f"no plane c={c} z={z} t={t} in a {sizes} image")
        with decoding(f"plane c={c} z={z} t={t}"):
            return self._read(c, z, t)

    def close(self) -> None:
        if self._close is not None:
            self._close()
