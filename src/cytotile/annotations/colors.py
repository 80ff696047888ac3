"""Annotation colours: ``#rgb``, ``#rgba``, ``#rrggbb``, ``#rrggbbaa``, ``0xrrggbb``,
``rgb(r, g, b)``, ``rgba(r, g, b, a)`` (a in [0, 1]), CSS basic colour names, or a 32-bit
integer ``0xRRGGBBAA`` (as PIMS reads ints)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cytotile.errors import BadParameter


@dataclass(frozen=True)
class Color:
    r: int
    g: int
    b: int
    a: int = 255

    @property
    def rgb(self) -> tuple[int, int, int]:
        return self.r, self.g, self.b

    @property
    def is_grey(self) -> bool:
        return self.r == self.g == self.b


WHITE = Color(255, 255, 255)
BLACK = Color(0, 0, 0)

NAMES = {
    "black": "000000", "silver": "c0c0c0", "gray": "808080", "grey": "808080",
    "white": "ffffff", "maroon": "800000", "red": "ff0000", "purple": "800080",
    "fuchsia": "ff00ff", "magenta": "ff00ff", "green": "008000", "lime": "00ff00",
    "olive": "808000", "yellow": "ffff00", "navy": "000080", "blue": "0000ff",
    "teal": "008080", "aqua": "00ffff", "cyan": "00ffff", "orange": "ffa500",
}  # fmt: skip
HEX = re.compile(r"^(?:#|0x)([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$")
FUNC = re.compile(r"^rgba?\(([^)]*)\)$")


def parse_color(name: str, value: Any) -> Color:
    if isinstance(value, bool):
        raise BadParameter(f"{name}: {value!r} is not a colour")
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFFFFFF:
            raise BadParameter(f"{name}: {value} is not a 32-bit RGBA colour")
        return Color(value >> 24 & 255, value >> 16 & 255, value >> 8 & 255, value & 255)
    if not isinstance(value, str):
        raise BadParameter(f"{name}: {value!r} is not a colour")
    text = value.strip().lower()
    text = f"#{NAMES[text]}" if text in NAMES else text
    match = HEX.match(text)
    if match:
        digits = match.group(1)
        if len(digits) <= 4:
            digits = "".join(ch * 2 for ch in digits)
        channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
        return Color(*channels)
    match = FUNC.match(text.replace(" ", ""))
    if match:
        return _functional(name, value, match.group(1).split(","), text.startswith("rgba"))
    raise BadParameter(f"{name}: {value!r} is not a colour (#rrggbb, rgb(), a name...)")


def _functional(name: str, value: str, parts: list[str], alpha: bool) -> Color:
    if len(parts) != (4 if alpha else 3):
        raise BadParameter(f"{name}: {value!r} has {len(parts)} components")
    try:
        rgb = [int(p) for p in parts[:3]]
        a = round(float(parts[3]) * 255) if alpha else 255
    except ValueError:
        raise BadParameter(f"{name}: {value!r} has a component that is not a number") from None
    if any(not 0 <= c <= 255 for c in [*rgb, a]):
        raise BadParameter(f"{name}: {value!r} has a component out of range")
    return Color(rgb[0], rgb[1], rgb[2], a)
