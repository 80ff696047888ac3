"""TIFF and EXIF tags as flat ``namespace.Name`` raw metadata, and known fields read from them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from cytotile.formats.common import iso_datetime

#: offsets, byte counts, tables and binary blobs: no use as metadata
SKIPPED = {273, 279, 288, 289, 320, 324, 325, 330, 347, 437, 519, 520, 521, 559, 700, 33723}
SKIPPED |= {34377, 34675, 50838, 50839, *range(65420, 65459)}
SUB_IFDS = {34665: "exif", 34853: "gps", 40965: "interop"}
RATIONALS = {5, 10}
MAX_TEXT = 65536
MICROMETERS_PER = {2: 25400.0, 3: 10000.0}  # ResolutionUnit inch, centimeter


def jsonable(value: Any) -> Any:
    """A JSON-able version of a tag value, or ``None`` to drop it (blobs, big arrays)."""
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        text = value.strip().rstrip("\x00")
        return text[:MAX_TEXT] if text else None
    if isinstance(value, tuple | list) and 0 < len(value) <= 32:
        items = [jsonable(v) for v in value]
        if any(i is None or isinstance(i, list | dict) for i in items):
            return None
        return items[0] if len(items) == 1 else items
    return None


def raw_tags(page: Any, namespace: str = "tiff") -> dict[str, Any]:
    """Tags of a tifffile page, EXIF/GPS sub-IFDs flattened into their own namespaces."""
    raw: dict[str, Any] = {}
    for tag in page.tags:
        if tag.code in SKIPPED:
            continue
        value = tag.value
        if tag.code in SUB_IFDS and isinstance(value, dict):
            for key, sub in value.items():
                converted = jsonable(sub)
                if converted is not None:
                    raw[f"{SUB_IFDS[tag.code]}.{key}"] = converted
            continue
        if tag.dtype in RATIONALS and isinstance(value, tuple) and len(value) == 2:
            value = value[0] / value[1] if value[1] else None
        converted = jsonable(value)
        if converted is not None:
            raw[f"{namespace}.{tag.name}"] = converted
    return raw


@contextmanager
def _quiet_tifffile() -> Iterator[None]:
    logger = logging.getLogger("tifffile")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def exif_tags(blob: bytes) -> dict[str, Any]:
    """``exif.*`` raw metadata from an EXIF block (JPEG APP1 / PNG eXIf), empty if unreadable."""
    if blob.startswith(b"Exif\x00\x00"):
        blob = blob[6:]
    if blob[:4] not in (b"II*\x00", b"MM\x00*"):
        return {}
    import tifffile

    try:
        with _quiet_tifffile(), tifffile.TiffFile(io.BytesIO(blob)) as tif:
            return raw_tags(tif.pages[0], namespace="exif")
    except Exception:  # a broken EXIF block is not worth failing an import for
        return {}


def physical_sizes(raw: dict[str, Any], ns: str = "tiff") -> tuple[float | None, float | None]:
    """Pixel size in micrometers from X/YResolution and ResolutionUnit (inch or cm only)."""
    unit = raw.get(f"{ns}.ResolutionUnit")
    factor = MICROMETERS_PER.get({"INCH": 2, "CENTIMETER": 3}.get(unit, unit))  # type: ignore[arg-type]
    if factor is None:
        return None, None
    sizes = []
    for axis in "XY":
        res = raw.get(f"{ns}.{axis}Resolution")
        sizes.append(factor / res if isinstance(res, int | float) and res > 0 else None)
    return sizes[0], sizes[1]


def acquisition_date(raw: dict[str, Any]) -> str | None:
    """ISO date from EXIF DateTimeOriginal/DateTimeDigitized, else TIFF/EXIF DateTime."""
    keys = ("exif.DateTimeOriginal", "exif.DateTimeDigitized", "tiff.DateTime", "exif.DateTime")
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str) and (parsed := iso_datetime(value)):
            return parsed
    return None
