"""Typed request models of the image outputs (PIMS parameters) and their parsing.

Parsing checks what can be checked without the image (types, ranges, known ids); checks that
need the image (channel indexes, tiers, regions) happen when the output is made. Every error is
a ``BadParameter`` naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cytotile.errors import BadParameter
from cytotile.pipeline import colormaps, filters
from cytotile.pipeline.args import Args, is_number_text, to_int
from cytotile.pyramid import Region

MAX_INTENSITY = 65535


class IntensityMode(StrEnum):
    AUTO_IMAGE = "AUTO_IMAGE"
    AUTO_PLANE = "AUTO_PLANE"
    STRETCH_IMAGE = "STRETCH_IMAGE"
    STRETCH_PLANE = "STRETCH_PLANE"


Intensity = int | IntensityMode


class Safety(StrEnum):
    """``X-Image-Size-Safety``: what to do with an answer larger than the server's limit."""

    SAFE_REJECT = "SAFE_REJECT"
    SAFE_RESIZE = "SAFE_RESIZE"
    UNSAFE = "UNSAFE"


@dataclass(frozen=True)
class PlaneSelection:
    channels: tuple[int, ...] | None = None  # None: all channels
    z_slice: int | None = None  # None: the median focal plane
    timepoint: int | None = None  # None: the first timepoint


@dataclass(frozen=True)
class Manipulation:
    min_intensities: tuple[Intensity, ...] = (IntensityMode.AUTO_IMAGE,)
    max_intensities: tuple[Intensity, ...] = (IntensityMode.AUTO_IMAGE,)
    gammas: tuple[float, ...] = (1.0,)
    log: bool = False
    colormaps: tuple[str, ...] = ()  # canonical ids; () or ("NONE",): default colours
    filter: str | None = None
    bits: int | None = 8  # None: AUTO (the source's bit depth when the format allows it)
    colorspace: str = "AUTO"  # AUTO | GRAY | COLOR


@dataclass(frozen=True)
class ImageParams:
    planes: PlaneSelection = field(default_factory=PlaneSelection)
    manipulation: Manipulation = field(default_factory=Manipulation)


@dataclass(frozen=True)
class Target:
    """A target size; precedence: level > zoom > height > width > length. Lengths may be a
    fraction (0, 1] of the source's."""

    length: int | float | None = None
    width: int | float | None = None
    height: int | float | None = None
    zoom: int | None = None
    level: int | None = None


@dataclass(frozen=True)
class TileRef:
    """A tile: a tier (``kind`` "zoom" or "level") and an index or coordinates."""

    kind: str
    tier: int
    ti: int | None = None
    tx: int | None = None
    ty: int | None = None


@dataclass(frozen=True)
class WindowInput:
    """A window's input region, in a reference tier (None: level 0)."""

    region: Region | None = None
    ti: int | None = None
    tx: int | None = None
    ty: int | None = None
    tier_kind: str = "level"
    tier: int | None = None


def parse_planes(args: Args) -> PlaneSelection:
    channels = args.get_ints("channels")
    z_slices = args.get_ints("z_slices")
    timepoints = args.get_ints("timepoints")
    for name, values in (("z_slices", z_slices), ("timepoints", timepoints)):
        if values and len(set(values)) > 1:
            raise BadParameter(f"{name}: one index only (reductions are not implemented)")
    return PlaneSelection(
        tuple(sorted(set(channels))) if channels else None,
        z_slices[0] if z_slices else None,
        timepoints[0] if timepoints else None,
    )


def _intensities(args: Args, name: str) -> tuple[Intensity, ...]:
    values = args.many(name)
    if not values:
        return (IntensityMode.AUTO_IMAGE,)
    out: list[Intensity] = []
    for value in values:
        if isinstance(value, str) and not is_number_text(value):
            try:
                out.append(IntensityMode(value.strip().upper()))
            except ValueError:
                modes = ", ".join(m.value for m in IntensityMode)
                raise BadParameter(
                    f"{name}: {value!r} is neither an intensity nor one of {modes}"
                ) from None
        else:
            out.append(to_int(name, value, 0, MAX_INTENSITY))
    return tuple(out)


def parse_manipulation(args: Args, *, general: bool = False) -> Manipulation:
    """``general``: resized/window answers (``bits`` and ``colorspace`` accepted)."""
    gammas = args.get_floats("gammas", 0.0, 10.0) or [1.0]
    colormap_ids = args.many("colormaps") or []
    cmaps = tuple(colormaps.normalize_id(str(c)) for c in colormap_ids)
    filter_ids = [f for f in (args.many("filters") or []) if str(f).strip()]
    if len(filter_ids) > 1:
        raise BadParameter("filters: one filter only")
    bits: int | None = 8
    colorspace = "AUTO"
    if general:
        raw_bits = args.one("bits")
        if raw_bits is None or str(raw_bits).strip().upper() == "AUTO":
            bits = None
        else:
            bits = to_int("bits", raw_bits, 1, 64)
            if bits not in (8, 16):
                raise BadParameter(f"bits: {bits} is not supported; use 8, 16 or AUTO")
        colorspace = (args.get_str("colorspace") or "AUTO").upper()
        if colorspace not in ("AUTO", "GRAY", "COLOR"):
            raise BadParameter(f"colorspace: {colorspace!r} is not one of AUTO, GRAY, COLOR")
    return Manipulation(
        min_intensities=_intensities(args, "min_intensities"),
        max_intensities=_intensities(args, "max_intensities"),
        gammas=tuple(gammas),
        log=bool(args.get_bool("log")),
        colormaps=() if cmaps in ((), ("NONE",)) else cmaps,
        filter=filters.normalize_id(str(filter_ids[0])) if filter_ids else None,
        bits=bits,
        colorspace=colorspace,
    )


DEFAULT_PARAMS = ImageParams()


def parse_image_params(args: Args, *, general: bool = False) -> ImageParams:
    if not args.values and not general:
        return DEFAULT_PARAMS
    return ImageParams(parse_planes(args), parse_manipulation(args, general=general))


def _length(args: Args, name: str) -> int | float | None:
    value = args.one(name)
    if value is None:
        return None
    if isinstance(value, float) or (isinstance(value, str) and "." in value):
        number = float(value) if not isinstance(value, str) else _float(name, value)
        if not 0 < number <= 1:
            raise BadParameter(f"{name}: a fraction must be in (0, 1], got {value!r}")
        return number
    return to_int(name, value, 1)


def _float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadParameter(f"{name}: a number is expected, got {text!r}") from None


def parse_target(args: Args, *, tiers: bool, default_length: int | None = None) -> Target:
    target = Target(
        length=_length(args, "length"),
        width=_length(args, "width"),
        height=_length(args, "height"),
        zoom=args.get_int("zoom") if tiers else None,
        level=args.get_int("level") if tiers else None,
    )
    if all(v is None for v in vars(target).values()) and default_length is not None:
        return Target(length=default_length)
    return target


def parse_tile_ref(args: Args) -> TileRef:
    """The generic ``POST .../normalized-tile`` body: zoom or level, and ti or tx and ty."""
    zoom, level = args.get_int("zoom"), args.get_int("level")
    if (zoom is None) == (level is None):
        raise BadParameter("zoom, level: exactly one of zoom and level is required")
    kind, tier = ("zoom", zoom) if zoom is not None else ("level", level)
    assert tier is not None
    ti, tx, ty = args.get_int("ti"), args.get_int("tx"), args.get_int("ty")
    if ti is None and (tx is None or ty is None):
        raise BadParameter("ti, tx, ty: a tile index ti, or both tx and ty, is required")
    return TileRef(kind, tier, ti, tx, ty)


def parse_window(args: Args) -> WindowInput:
    kind = (args.get_str("tier_index_type") or "LEVEL").upper()
    if kind not in ("LEVEL", "ZOOM"):
        raise BadParameter(f"tier_index_type: {kind!r} is not one of LEVEL, ZOOM")
    tier = args.get_int("reference_tier_index")
    raw = args.raw("region")
    ti, tx, ty = args.get_int("ti"), args.get_int("tx"), args.get_int("ty")
    region = None
    if raw is not None:
        if not isinstance(raw, dict):
            raise BadParameter("region: an object {left, top, width, height} is expected")
        missing = [k for k in ("left", "top", "width", "height") if raw.get(k) is None]
        if missing:
            raise BadParameter(f"region: {', '.join(missing)} missing")
        region = Region(
            to_int("region.left", raw["left"], 0),
            to_int("region.top", raw["top"], 0),
            to_int("region.width", raw["width"], 1),
            to_int("region.height", raw["height"], 1),
        )
    elif ti is None and (tx is None or ty is None):
        raise BadParameter("region: a region, a tile index ti, or tx and ty is required")
    return WindowInput(region, ti, tx, ty, kind.lower(), tier)


def parse_safety(header: str | None) -> Safety:
    if not header:
        return Safety.SAFE_REJECT
    try:
        return Safety(header.strip().upper())
    except ValueError:
        modes = ", ".join(m.value for m in Safety)
        raise BadParameter(f"X-Image-Size-Safety: {header!r} is not one of {modes}") from None
