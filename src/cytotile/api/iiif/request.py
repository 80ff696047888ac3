"""IIIF image request parameters: ``{region}/{size}/{rotation}/{quality}.{format}``.

Regions are in level-0 pixels (IIIF's "full image"); sizes are the output's pixels before
rotation. Version 3 refuses upscaling unless the size starts with ``^``; version 2 has no ``^``
and upscales freely (within the limits). Every syntax error is a ``BadParameter`` (IIIF 400).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cytotile.errors import BadParameter, CytotileError, TooLarge
from cytotile.pipeline.encode import Format
from cytotile.pyramid import Region

QUALITIES = ("default", "color", "gray", "bitonal")
FORMATS = {"jpg": Format.JPEG, "png": Format.PNG, "webp": Format.WEBP}
#: formats the IIIF specification names that cytotile does not produce (501, not 400)
OTHER_FORMATS = ("tif", "gif", "jp2", "pdf")
#: widest side an answer may have (WebP's limit; JPEG's is 65535)
MAX_SIDE = 16383

NUMBER = r"\d+(?:\.\d*)?|\.\d+"
PIXELS = re.compile(r"^(\d+),(\d+),(\d+),(\d+)$")
PERCENT = re.compile(rf"^pct:({NUMBER}),({NUMBER}),({NUMBER}),({NUMBER})$")
ROTATION = re.compile(rf"^(!?)({NUMBER})$")
SIZE_WH = re.compile(r"^(!?)(\d*),(\d*)$")
SIZE_PCT = re.compile(rf"^pct:({NUMBER})$")


class Unsupported(CytotileError):
    """A valid IIIF request for a feature cytotile does not implement (IIIF 501)."""

    title = "Not implemented"


@dataclass(frozen=True)
class Limits:
    max_width: int
    max_height: int
    max_area: int


@dataclass(frozen=True)
class Rotation:
    mirror: bool = False
    degrees: float = 0.0

    @property
    def is_identity(self) -> bool:
        return not self.mirror and self.degrees == 0.0


def parse_region(text: str, l0_width: int, l0_height: int) -> Region:
    """The level-0 region, clipped to the image; 400 when empty or outside it."""
    if text == "full":
        return Region(0, 0, l0_width, l0_height)
    if text == "square":
        side = min(l0_width, l0_height)
        return Region((l0_width - side) // 2, (l0_height - side) // 2, side, side)
    match = PIXELS.match(text)
    if match:
        left, top, width, height = (int(g) for g in match.groups())
    else:
        match = PERCENT.match(text)
        if not match:
            raise BadParameter(f"region: {text!r} is not full, square, x,y,w,h or pct:x,y,w,h")
        px, py, pw, ph = (float(g) for g in match.groups())
        left, top = round(px * l0_width / 100), round(py * l0_height / 100)
        width = round((px + pw) * l0_width / 100) - left
        height = round((py + ph) * l0_height / 100) - top
    if width <= 0 or height <= 0:
        raise BadParameter(f"region: {text!r} has no area")
    if left >= l0_width or top >= l0_height:
        raise BadParameter(f"region: {text!r} is outside the {l0_width}x{l0_height} image")
    return Region(left, top, min(width, l0_width - left), min(height, l0_height - top))


def _fit(width: float, height: float, limits: Limits) -> float:
    """The largest scale of a width x height image within the limits."""
    return min(
        limits.max_width / width,
        limits.max_height / height,
        math.sqrt(limits.max_area / (width * height)),
    )


def parse_size(text: str, region: Region, version: int, limits: Limits) -> tuple[int, int]:
    """The output size of ``region``; 400 for bad syntax, for upscaling without ``^`` (v3),
    for an empty answer and for an answer beyond the limits."""
    up = text.startswith("^")
    if up and version < 3:
        raise BadParameter(f"size: {text!r}: ^ (upscaling) is IIIF 3 syntax")
    body = text[1:] if up else text
    rw, rh = region.width, region.height
    if body == "max" or (version < 3 and body == "full" and not up):
        scale = _fit(rw, rh, limits)
        scale = scale if up else min(1.0, scale)
        width, height = max(1, math.floor(rw * scale)), max(1, math.floor(rh * scale))
    elif match := SIZE_PCT.match(body):
        n = float(match.group(1))
        width, height = round(rw * n / 100), round(rh * n / 100)
    elif match := SIZE_WH.match(body):
        bang, w_text, h_text = match.groups()
        if bang and not (w_text and h_text):
            raise BadParameter(f"size: {text!r}: !w,h needs both w and h")
        if not (w_text or h_text):
            raise BadParameter(f"size: {text!r} gives neither a width nor a height")
        if bang:
            scale = min(int(w_text) / rw, int(h_text) / rh)
            width, height = max(1, round(rw * scale)), max(1, round(rh * scale))
        elif w_text and h_text:
            width, height = int(w_text), int(h_text)
        elif w_text:
            width = int(w_text)
            height = max(1, round(rh * width / rw)) if width else 0
        else:
            height = int(h_text)
            width = max(1, round(rw * height / rh)) if height else 0
    else:
        raise BadParameter(f"size: {text!r} is not max, w,, ,h, pct:n, w,h or !w,h")
    if width <= 0 or height <= 0:
        raise BadParameter(f"size: {text!r} gives an empty image")
    if version >= 3 and not up and (width > rw or height > rh):
        raise BadParameter(f"size: {text!r} is larger than the {rw}x{rh} region; use ^ to upscale")
    if width > limits.max_width or height > limits.max_height:
        raise TooLarge(f"size: {width}x{height} exceeds {limits.max_width}x{limits.max_height}")
    if width * height > limits.max_area:
        raise TooLarge(f"size: {width}x{height} is more than {limits.max_area} pixels")
    return width, height


def parse_rotation(text: str) -> Rotation:
    match = ROTATION.match(text)
    if not match:
        raise BadParameter(f"rotation: {text!r} is not n or !n (degrees, 0 to 360)")
    degrees = float(match.group(2))
    if degrees > 360:
        raise BadParameter(f"rotation: {text!r} is more than 360 degrees")
    return Rotation(bool(match.group(1)), degrees % 360)


def parse_quality(text: str) -> str:
    if text not in QUALITIES:
        raise BadParameter(f"quality: {text!r} is not one of {', '.join(QUALITIES)}")
    return text


def parse_format(text: str) -> Format:
    fmt = FORMATS.get(text)
    if fmt is not None:
        return fmt
    if text in OTHER_FORMATS:
        raise Unsupported(f"format: {text} is not produced; use {', '.join(FORMATS)}")
    raise BadParameter(f"format: {text!r} is not one of {', '.join(FORMATS)}")
