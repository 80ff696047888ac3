"""The metadata of a Nikon ND2 as the nd2 package parses it (an open ``nd2.ND2File``): C/Z/T
sizes, channels (name, colour, wavelengths), calibration, frame rate, objective; raw ``ND2.*``
items. Only the package's reader and its dataclasses are used: never ``to_dask`` nor the
OME-XML export (their dependencies, dask and ome-types, are left out of the import function)."""

from __future__ import annotations

from typing import Any

from cytotile.errors import FormatError

#: loop axes the nd2 package names (T: time, Z: z-stack, P: XY positions, U: custom loop)
SUPPORTED_AXES = set("TZPCSYX")


def position_names(nd2file: Any) -> list[str]:
    """The XY positions of a multi-position experiment (each its own image), else []."""
    for loop in nd2file.experiment:
        if loop.type == "XYPosLoop" and loop.count > 1:
            points = loop.parameters.points
            return [p.name or f"Position {k + 1}" for k, p in enumerate(points)]
    return []


def frame_index(loops: tuple[dict[str, int], ...], position: int = 0) -> dict[tuple[int, int], int]:
    """Sequence index of each (z, t) frame of XY position ``position``."""
    index: dict[tuple[int, int], int] = {}
    for seq, where in enumerate(loops):
        if where.get("P", 0) == position:
            index.setdefault((where.get("Z", 0), where.get("T", 0)), seq)
    return index


def _frame_rate(experiment: list[Any]) -> float | None:
    for loop in experiment:
        if loop.type == "TimeLoop":
            period = loop.parameters.periodMs
        elif loop.type == "NETimeLoop" and loop.parameters.periods:
            period = loop.parameters.periods[0].periodMs
        else:
            continue
        return 1000.0 / period if period and period > 0 else None
    return None


def _color(color: Any) -> str | None:
    """``#RRGGBB``; black (an unset colour) is left to PIMS's defaults."""
    hex_color = f"#{color.r:02X}{color.g:02X}{color.b:02X}"
    return None if hex_color == "#000000" else hex_color


def _plain(value: Any) -> Any:
    """A metadata value the manifest can hold (numbers, text, bools, lists of them)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _raw(nd2file: Any, sizes: dict[str, int]) -> dict[str, Any]:
    raw: dict[str, Any] = {"ND2.Version": ".".join(str(v) for v in nd2file.version)}
    raw["ND2.Sizes"] = dict(sizes)
    for key, value in nd2file.attributes._asdict().items():  # a NamedTuple
        if value is not None:
            raw[f"ND2.Attributes.{key}"] = _plain(value)
    for key, value in dict(nd2file.text_info).items():
        raw[f"ND2.TextInfo.{key}"] = _plain(value)
    raw["ND2.Loops"] = [f"{loop.type}:{loop.count}" for loop in nd2file.experiment]
    return raw


def parse(nd2file: Any, position: int = 0) -> dict[str, Any]:
    """What the format needs to build its metadata, from an open ``nd2.ND2File``, for XY
    position ``position`` (an image of its own when the experiment has several)."""
    sizes = {k: int(v) for k, v in nd2file.sizes.items()}
    extra = sorted(set(sizes) - SUPPORTED_AXES)
    if extra:
        raise FormatError(f"ND2 dimensions {''.join(extra)} are not supported (only C, Z, T)")
    attrs = nd2file.attributes
    # as the nd2 package sizes it: one channel of 3 components is RGB, anything else is as
    # many grey channels as components (interleaved in each pixel of the frame)
    rgb = int(attrs.channelCount or 1) == 1 and int(attrs.componentCount) == 3
    samples, n_c = (3, 1) if rgb else (1, int(attrs.componentCount))
    raw = _raw(nd2file, sizes)
    positions = position_names(nd2file)
    if not 0 <= position < max(1, len(positions)):
        raise FormatError(f"ND2 has no XY position {position + 1}")
    if positions:
        raw["ND2.Positions"] = positions
        raw["ND2.Position"] = positions[position]
    meta = nd2file.metadata
    channels = list(meta.channels or []) if meta else []
    physical: list[float | None] = [None, None, None]
    magnification = None
    if channels:
        volume = channels[0].volume
        calibrated = list(volume.axesCalibrated)
        physical = [
            float(v) if calibrated[i] and v > 0 else None
            for i, v in enumerate(volume.axesCalibration)
        ]
        magnification = channels[0].microscope.objectiveMagnification
    return {
        "width": int(attrs.widthPx or 0),
        "height": int(attrs.heightPx or 0),
        "n_channels": n_c,
        "n_samples": samples,
        "depth": sizes.get("Z", 1),
        "duration": sizes.get("T", 1),
        "sample_type": str(nd2file.dtype),
        "significant_bits": int(attrs.bitsPerComponentSignificant or 0) or None,
        "physical": physical,
        "magnification": float(magnification) if magnification else None,
        "frame_rate": _frame_rate(nd2file.experiment),
        "channels": [
            {
                "name": ch.channel.name or None,
                "color": _color(ch.channel.color),
                "emission": ch.channel.emissionLambdaNm,
                "excitation": ch.channel.excitationLambdaNm,
            }
            for ch in channels
        ],
        "raw": raw,
    }
