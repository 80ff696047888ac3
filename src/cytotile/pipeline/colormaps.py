"""Colormaps: PIMS's 82 named maps, constant colours (CSS names, ``#rgb``, ``#rrggbb``), ``!``.

The named maps (matplotlib's, VIRIDIS to GIST_NCAR, plus PIMS's HEATMAP) are 256-entry tables
in ``colormaps.json``, written once by ``scripts/make_colormaps.py`` (matplotlib is not needed
here). A constant colour shades intensities from black to that colour. Ids are case-insensitive;
``!`` before any id inverts it (named maps, colour names, hex with or without ``#``).
``DEFAULT`` is the default rendering: each channel's colour (from the image metadata, else the
default palette), even for one channel selected alone as PIMS does; grey only for a one-channel
image (or a white channel); ``!DEFAULT`` inverts that colour (white when there is none).
``NONE`` applies no colormap: every channel is grey (PIMS).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from cytotile.errors import BadParameter

if TYPE_CHECKING:
    import numpy as np

RGB = tuple[float, float, float]

#: colours the renderer and the channel defaults use by name (PIMS: "lime" is pure green)
COLORS: dict[str, RGB] = {
    "RED": (1.0, 0.0, 0.0),
    "GREEN": (0.0, 1.0, 0.0),
    "LIME": (0.0, 1.0, 0.0),
    "BLUE": (0.0, 0.0, 1.0),
    "CYAN": (0.0, 1.0, 1.0),
    "MAGENTA": (1.0, 0.0, 1.0),
    "YELLOW": (1.0, 1.0, 0.0),
    "GREY": (1.0, 1.0, 1.0),
    "GRAY": (1.0, 1.0, 1.0),
    "WHITE": (1.0, 1.0, 1.0),
}
#: colours of channels that have none in their metadata, by channel index (PIMS's order)
DEFAULT_PALETTE = ("RED", "LIME", "BLUE", "CYAN", "MAGENTA", "YELLOW")
NONE, DEFAULT = "NONE", "DEFAULT"
#: the ids that depend on the image (the channel's own colour) or that apply no colormap
SPECIAL = (NONE, DEFAULT, "!" + DEFAULT)

HEX = re.compile(r"^#([0-9A-F]{3}|[0-9A-F]{6})$")
BARE_HEX = re.compile(r"^[0-9A-F]{3}$|^[0-9A-F]{6}$")


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("cytotile.pipeline").joinpath("colormaps.json").read_text()
    data: dict[str, Any] = json.loads(text)
    data["by_id"] = {item["id"]: item for item in data["colormaps"]}
    return data


def named() -> dict[str, dict[str, Any]]:
    """The named maps by id (upper case), in PIMS's order."""
    by_id: dict[str, dict[str, Any]] = _data()["by_id"]
    return by_id


def hex_rgb(text: str) -> RGB | None:
    """``#rgb`` or ``#rrggbb`` (any case) as floats in [0, 1]; None otherwise."""
    match = HEX.match(text.strip().upper())
    if not match:
        return None
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    value = int(digits, 16)
    return ((value >> 16) / 255, ((value >> 8) & 255) / 255, (value & 255) / 255)


def color_rgb(text: str) -> RGB | None:
    """A constant colour: a CSS colour name (case-insensitive), else hex; None otherwise."""
    css = _data()["css"].get(text.strip().upper())
    return hex_rgb(css) if css else hex_rgb(text)


def short_hex(rgb: RGB) -> str:
    """``#f00`` when every component is a doubled digit, else ``#rrggbb`` (lower case, as PIMS)."""
    digits = "".join(f"{round(c * 255):02x}" for c in rgb)
    if all(digits[i] == digits[i + 1] for i in (0, 2, 4)):
        return "#" + digits[0::2]
    return "#" + digits


def normalize_id(text: str, name: str = "colormaps") -> str:
    """The canonical id (upper case, ``!`` kept, ``#`` before a bare hex colour); BadParameter
    for an unknown one. ``NONE`` cannot be inverted (there is no colormap to invert)."""
    cid = text.strip().upper()
    inverted = cid.startswith("!")
    base = cid[1:].strip() if inverted else cid
    prefix = "!" if inverted else ""
    if cid in SPECIAL or (base in named() and base != NONE):
        return prefix + base
    if BARE_HEX.match(base) and base not in _data()["css"]:
        return prefix + "#" + base  # a colormap id may omit the '#' (Cytomine sends FF0000)
    if color_rgb(base) is not None:
        return prefix + base
    raise BadParameter(
        f"{name}: unknown colormap {text!r}; known: NONE, DEFAULT, a name of /colormaps, "
        "a CSS colour name, #rgb or #rrggbb ('#' optional), each but NONE invertible with '!'"
    )


def describe(with_inverted: bool = False) -> list[dict[str, object]]:
    """The ``/colormaps`` items (PIMS's colormap fields, plus the spec's ``n_colors``)."""
    items: list[dict[str, object]] = []
    for cid, item in named().items():
        items.append({"id": cid, "name": item["name"], "type": item["type"], "n_colors": 256})
        if with_inverted:
            items.append({"id": "!" + cid, "name": item["name"] + " (Inverted)",
                          "type": item["type"], "n_colors": 256})  # fmt: skip
    return items


def find(cid: str) -> dict[str, object] | None:
    """One named map or its inverted form (``/colormaps/{id}``), None when unknown."""
    wanted = cid.strip().upper()
    return next((i for i in describe(with_inverted=True) if i["id"] == wanted), None)


def constant(cid: str) -> tuple[RGB, bool] | None:
    """(colour, inverted) of a canonical constant-colour id; None for a named map or a
    special id (DEFAULT, NONE)."""
    reverse = cid.startswith("!")
    base = cid[1:] if reverse else cid
    if base in SPECIAL or base in named():
        return None
    color = color_rgb(base)
    return None if color is None else (color, reverse)


@lru_cache(maxsize=64)
def lut(cid: str) -> np.ndarray:
    """A (256, 3) float32 table from 0..255 intensities to RGB in [0, 1] (cached: read only)."""
    import base64

    import numpy as np

    reverse = cid.startswith("!")
    base = cid[1:] if reverse else cid
    if base in SPECIAL:
        raise ValueError(f"{cid} depends on the image: resolve it first (render.channel_renders)")
    item = named().get(base)
    table: np.ndarray
    if item is not None:
        raw = np.frombuffer(base64.b64decode(item["lut"]), dtype=np.uint8).reshape(256, 3)
        table = raw.astype(np.float32) / 255
    else:
        color = color_rgb(base)
        if color is None:
            raise BadParameter(f"colormaps: unknown colormap {cid!r}")
        ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)
        table = ramp[:, None] * np.asarray(color, dtype=np.float32)[None, :]
    out = table[::-1].copy() if reverse else table
    out.setflags(write=False)  # shared by every caller of the cache
    return out
