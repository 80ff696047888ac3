"""The image formats cytotile imports, and format detection from content (never the extension).

Formats are entry points of the group ``cytotile.formats`` (:mod:`cytotile.formats.registry`):
the built-in ones are declared in cytotile's ``pyproject.toml``, another package adds its own the
same way. Detection tries them in ``Format.order``: the first whose checker matches wins, so
specific formats come before the generic ones they are special cases of (SVS before pyramidal
TIFF before planar TIFF). Nothing is loaded at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import Format
from cytotile.formats.common import decoding
from cytotile.formats.registry import registered
from cytotile.formats.signatures import sniff
from cytotile.formats.tiff import structure

__all__ = ["decoding", "describe_formats", "detect", "format_by_id", "registered", "sniff"]

HEAD_SIZE = 4096
WRITTEN_FORMAT = "PYRTIFF"  # the serving pyramid: a tiled pyramidal TIFF


def detect(path: Path, *, max_pixels: int | None = safety.DEFAULT_MAX_PIXELS) -> type[Format]:
    """The format of the file at ``path`` from its content, its declared sizes checked.
    ``FormatError`` (a human reason) for empty, unknown, unsupported, malformed or bomb files."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_SIZE)
    if not head:
        raise FormatError("empty file")
    for fmt in registered():
        if fmt.match(path, head):
            if fmt.importable:  # a refused format decodes nothing: its reason comes first
                safety.check_file(path, max_pixels=max_pixels)
            return fmt
    if structure.is_tiff(head):
        info = structure.inspect(path)
        raise FormatError(f"unsupported TIFF: {structure.why_unsupported(info)}")
    what = sniff(head)
    looks = f"looks like {what}" if what else "unrecognized content"
    raise FormatError(f"not a supported image format ({looks})")


def format_by_id(format_id: str) -> type[Format]:
    """The format of a PIMS identifier (case-insensitive); ``KeyError`` when unknown."""
    for fmt in registered():
        if fmt.id == format_id.upper():
            return fmt
    raise KeyError(format_id)


def describe(fmt: type[Format]) -> dict[str, Any]:
    """One format as PIMS's ``format`` schema (plus ``order``), from the format's attributes.

    ``readable``: cytotile reads the format's pixels (every importable format: its source
    decodes them at import). ``convertible``: it is converted into the serving pyramid (every
    importable format, even the ``native`` ones, whose pyramid is kept as it is). ``writable``:
    cytotile writes files of this format (the serving pyramid is a pyramidal TIFF)."""
    return {
        "id": fmt.id,
        "name": fmt.name,
        "remarks": fmt.remarks,
        "convertible": fmt.importable,
        "readable": fmt.importable,
        "writable": fmt.id == WRITTEN_FORMAT,
        "importable": fmt.importable,
        "plugin": fmt.__module__,
        "order": fmt.order,
    }


def describe_formats() -> list[dict[str, Any]]:
    """What ``GET /formats`` lists, in detection order."""
    return [describe(fmt) for fmt in registered()]
