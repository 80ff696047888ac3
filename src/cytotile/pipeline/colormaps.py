"""Colormaps: constant colours (a channel is shaded in one colour) and a few gradients.

Ids are case-insensitive; ``!`` before an id reverses it; ``#RRGGBB`` is a constant colour too.
``NONE`` (or ``DEFAULT``) keeps the default rendering: grey for one channel, the channel's colour
(from the image metadata, else the default palette) when several channels are merged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from cytotile.errors import BadParameter

if TYPE_CHECKING:
    import numpy as np

RGB = tuple[float, float, float]

COLORS: dict[str, RGB] = {
    "RED": (1.0, 0.0, 0.0),
    "GREEN": (0.0, 1.0, 0.0),
    "BLUE": (0.0, 0.0, 1.0),
    "CYAN": (0.0, 1.0, 1.0),
    "MAGENTA": (1.0, 0.0, 1.0),
    "YELLOW": (1.0, 1.0, 0.0),
    "GREY": (1.0, 1.0, 1.0),
    "GRAY": (1.0, 1.0, 1.0),
    "WHITE": (1.0, 1.0, 1.0),
}
#: colours of channels that have none in their metadata, by channel index
DEFAULT_PALETTE = ("RED", "GREEN", "BLUE", "CYAN", "MAGENTA", "YELLOW", "GREY")
NO_COLORMAP = ("NONE", "DEFAULT")

#: gradients as (position, "#RRGGBB") anchors, linearly interpolated
GRADIENTS: dict[str, list[tuple[float, str]]] = {
    "VIRIDIS": [
        (0.0, "#440154"),
        (0.125, "#472d7b"),
        (0.25, "#3b528b"),
        (0.375, "#2c728e"),
        (0.5, "#21918c"),
        (0.625, "#28ae80"),
        (0.75, "#5ec962"),
        (0.875, "#addc30"),
        (1.0, "#fde725"),
    ],
    "JET": [
        (0.0, "#00007f"),
        (0.125, "#0000ff"),
        (0.375, "#00ffff"),
        (0.625, "#ffff00"),
        (0.875, "#ff0000"),
        (1.0, "#7f0000"),
    ],
    "HOT": [(0.0, "#000000"), (0.375, "#ff0000"), (0.75, "#ffff00"), (1.0, "#ffffff")],
}

HEX = re.compile(r"^#([0-9A-F]{6})$")


def hex_rgb(text: str) -> RGB | None:
    match = HEX.match(text.strip().upper())
    if not match:
        return None
    value = int(match.group(1), 16)
    return ((value >> 16) / 255, ((value >> 8) & 255) / 255, (value & 255) / 255)


def normalize_id(text: str, name: str = "colormaps") -> str:
    """The canonical id (upper case, ``!`` kept); BadParameter for an unknown one."""
    cid = text.strip().upper()
    base = cid[1:] if cid.startswith("!") else cid
    if base in NO_COLORMAP and not cid.startswith("!"):
        return "NONE"
    if base in COLORS or base in GRADIENTS or hex_rgb(base):
        return cid
    known = ", ".join([*COLORS, *GRADIENTS])
    raise BadParameter(f"{name}: unknown colormap {text!r}; known: NONE, {known}, #RRGGBB")


def describe() -> list[dict[str, object]]:
    """The ``/colormaps`` items (PIMS's colormap schema)."""
    items: list[dict[str, object]] = [
        {"id": cid, "name": cid.title(), "type": "SEQUENTIAL", "n_colors": 256} for cid in COLORS
    ]
    items += [
        {"id": cid, "name": cid.title(), "type": "SEQUENTIAL", "n_colors": 256} for cid in GRADIENTS
    ]
    return items


@lru_cache(maxsize=64)
def lut(cid: str) -> np.ndarray:
    """A (256, 3) float32 table from 0..255 intensities to RGB in [0, 1] (cached: read only)."""
    import numpy as np

    reverse = cid.startswith("!")
    base = cid[1:] if reverse else cid
    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    color = COLORS.get(base) or hex_rgb(base)
    if color is not None:
        table = ramp[:, None] * np.asarray(color, dtype=np.float32)[None, :]
    else:
        anchors = GRADIENTS[base]
        positions = [p for p, _ in anchors]
        rgbs = [hex_rgb(c) or (0.0, 0.0, 0.0) for _, c in anchors]
        table = np.stack(
            [np.interp(ramp, positions, [rgb[k] for rgb in rgbs]) for k in range(3)], axis=1
        ).astype(np.float32)
    out = table[::-1].copy() if reverse else table
    out.setflags(write=False)  # shared by every caller of the cache
    return out
