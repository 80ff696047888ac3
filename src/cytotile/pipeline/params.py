"""Typed request models of the image outputs (PIMS parameters: planes, intensities, gammas,
colormaps, filters, bits, colorspace, size safety) and their parsing. Target sizes and input
regions are in :mod:`cytotile.pipeline.regions`.

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

MAX_INTENSITY = 2**32 - 1  # uint32 planes
MIN_INTENSITY = -(2**31)  # int32 planes
#: signed samples are stored shifted by these to the unsigned type of their size (lossless,
#: order kept); clients see the file's own values: intensities in, histograms and types out
SIGNED_OFFSET = {"int8": 128, "int16": 32768, "int32": 2**31}


def signed_offset(image: dict[str, object]) -> int:
    """What was added to the file's samples to store them (0 unless they are signed)."""
    return SIGNED_OFFSET.get(str(image.get("sample_type") or ""), 0)


class IntensityMode(StrEnum):
    AUTO_IMAGE = "AUTO_IMAGE"
    AUTO_PLANE = "AUTO_PLANE"
    STRETCH_IMAGE = "STRETCH_IMAGE"
    STRETCH_PLANE = "STRETCH_PLANE"
    #: not a parameter value: what resized, window and annotation crops take when no bound is
    #: given, as PIMS: the full range of the significant bits, 0 to 2^bits - 1, in the file's
    #: values (PIMS's display routes, thumb and tiles, default to AUTO_IMAGE instead)
    FULL = "FULL"


Intensity = int | IntensityMode
GIVEN_MODES = tuple(m for m in IntensityMode if m is not IntensityMode.FULL)


class Safety(StrEnum):
    """``X-Image-Size-Safety``: what to do with an answer larger than the server's limit."""

    SAFE_REJECT = "SAFE_REJECT"
    SAFE_RESIZE = "SAFE_RESIZE"
    UNSAFE = "UNSAFE"


class Reduction(StrEnum):
    """How several selected planes become one (PIMS: ``c_reduction``, ``z_reduction``,
    ``t_reduction``)."""

    ADD = "ADD"
    MIN = "MIN"
    MED = "MED"
    MAX = "MAX"


@dataclass(frozen=True)
class PlaneSelection:
    channels: tuple[int, ...] | None = None  # None: all channels
    z_slice: int | None = None  # None: the median focal plane
    timepoint: int | None = None  # None: the first timepoint
    #: several focal planes / timepoints, reduced into one with ``z_reduction``/``t_reduction``
    z_slices: tuple[int, ...] | None = None
    timepoints: tuple[int, ...] | None = None
    z_reduction: Reduction = Reduction.MAX
    t_reduction: Reduction = Reduction.MAX


@dataclass(frozen=True)
class Manipulation:
    min_intensities: tuple[Intensity, ...] = (IntensityMode.AUTO_IMAGE,)
    max_intensities: tuple[Intensity, ...] = (IntensityMode.AUTO_IMAGE,)
    gammas: tuple[float, ...] = (1.0,)
    log: bool = False
    colormaps: tuple[str, ...] = ()  # canonical ids; (): DEFAULT (the default colours)
    filter: str | None = None
    bits: int | None = 8  # None: AUTO (the source's bit depth when the format allows it)
    colorspace: str = "AUTO"  # AUTO | GRAY | COLOR


@dataclass(frozen=True)
class ImageParams:
    planes: PlaneSelection = field(default_factory=PlaneSelection)
    manipulation: Manipulation = field(default_factory=Manipulation)


def _reduction(
    args: Args, name: str, default: Reduction, allowed: tuple[Reduction, ...]
) -> Reduction:
    value = args.get_str(name)
    if not value:
        return default
    try:
        reduction = Reduction(value.upper())
    except ValueError:
        names = ", ".join(r.value for r in allowed)
        raise BadParameter(f"{name}: {value!r} is not one of {names}") from None
    if reduction not in allowed:
        names = ", ".join(r.value for r in allowed)
        raise BadParameter(f"{name}: {reduction.value} is not implemented (only {names})")
    return reduction


GENERIC = (Reduction.MIN, Reduction.MED, Reduction.MAX)


def parse_planes(args: Args) -> PlaneSelection:
    """PIMS's plane selection: channels (all by default, composited additively), focal planes
    and timepoints (several: reduced, the maximum intensity projection by default)."""
    channels = args.get_ints("channels")
    z_slices = sorted(set(args.get_ints("z_slices") or []))
    timepoints = sorted(set(args.get_ints("timepoints") or []))
    _reduction(args, "c_reduction", Reduction.ADD, (Reduction.ADD,))
    return PlaneSelection(
        tuple(sorted(set(channels))) if channels else None,
        z_slices[0] if z_slices else None,
        timepoints[0] if timepoints else None,
        tuple(z_slices) if len(z_slices) > 1 else None,
        tuple(timepoints) if len(timepoints) > 1 else None,
        _reduction(args, "z_reduction", Reduction.MAX, GENERIC),
        _reduction(args, "t_reduction", Reduction.MAX, GENERIC),
    )


def _intensities(args: Args, name: str, default: IntensityMode) -> tuple[Intensity, ...]:
    values = args.many(name)
    if not values:
        return (default,)
    out: list[Intensity] = []
    for value in values:
        if isinstance(value, str) and not is_number_text(value):
            try:
                mode = IntensityMode(value.strip().upper())
                if mode not in GIVEN_MODES:
                    raise ValueError(mode)
                out.append(mode)
            except ValueError:
                modes = ", ".join(m.value for m in GIVEN_MODES)
                raise BadParameter(
                    f"{name}: {value!r} is neither an intensity nor one of {modes}"
                ) from None
        else:
            out.append(to_int(name, value, MIN_INTENSITY, MAX_INTENSITY))
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
        elif str(raw_bits).strip().upper() == "MAX":
            bits = 16  # the most the output format holds (8 for JPEG and WebP)
        else:
            bits = to_int("bits", raw_bits, 1, 64)
            if bits not in (8, 16):
                raise BadParameter(f"bits: {bits} is not supported; use 8, 16 or AUTO")
        colorspace = (args.get_str("colorspace") or "AUTO").upper()
        if colorspace not in ("AUTO", "GRAY", "COLOR"):
            raise BadParameter(f"colorspace: {colorspace!r} is not one of AUTO, GRAY, COLOR")
    default = IntensityMode.FULL if general else IntensityMode.AUTO_IMAGE
    return Manipulation(
        min_intensities=_intensities(args, "min_intensities", default),
        max_intensities=_intensities(args, "max_intensities", default),
        gammas=tuple(gammas),
        log=bool(args.get_bool("log")),
        colormaps=() if cmaps in ((), (colormaps.DEFAULT,)) else cmaps,
        filter=filters.normalize_id(str(filter_ids[0])) if filter_ids else None,
        bits=bits,
        colorspace=colorspace,
    )


DEFAULT_PARAMS = ImageParams()


def parse_image_params(args: Args, *, general: bool = False) -> ImageParams:
    if not args.values and not general:
        return DEFAULT_PARAMS
    return ImageParams(parse_planes(args), parse_manipulation(args, general=general))


def parse_safety(header: str | None) -> Safety:
    if not header:
        return Safety.SAFE_REJECT
    try:
        return Safety(header.strip().upper())
    except ValueError:
        modes = ", ".join(m.value for m in Safety)
        raise BadParameter(f"X-Image-Size-Safety: {header!r} is not one of {modes}") from None
