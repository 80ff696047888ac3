"""TIFF facts the vendor formats read through OpenSlide need without calling OpenSlide: tags of
a page for detection, and whether a page's JPEG tiles are the slide's level 0 exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.formats.common import iso_datetime
from cytotile.formats.tiff import structure

XMP = 700


def page_tag(path: Path, page: int, code: int) -> Any:
    """The value of tag ``code`` of page ``page`` (None when absent or unreadable)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if page >= len(tif.pages):
                return None
            tag = tif.pages[page].tags.get(code)  # type: ignore[union-attr]
            return None if tag is None else tag.value
    except Exception:  # a TIFF tifffile cannot read is not ours to detect
        return None


def text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def single_region(props: dict[str, str], width: int, height: int) -> bool:
    """No region properties, or one region covering level 0 from its origin."""
    if "openslide.region[1].x" in props:
        return False
    if "openslide.region[0].x" not in props:
        return True
    region = [props.get(f"openslide.region[0].{k}") for k in ("x", "y", "width", "height")]
    return region == ["0", "0", str(width), str(height)]


def jpeg_level0(path: Path, index: int, slide: Any) -> tuple[Path, int] | None:
    """``(path, index)`` when that page holds level 0 as OpenSlide gives it, as 8-bit RGB JPEG
    tiles the DCT re-tiler may copy (it makes its own finer checks and may still decline)."""
    info = structure.inspect(path)
    if index >= len(info.pages):
        return None
    page = info.pages[index]
    width, height = slide.dimensions
    if (page.width, page.height) != (width, height):
        return None
    if not (page.tiled and page.compression == 7 and page.bits == 8 and page.samples == 3):
        return None
    if page.photometric not in (2, 6) or page.planar != 1:
        return None
    return (path, index) if single_region(dict(slide.properties), width, height) else None


def tiff_datetime(props: dict[str, str]) -> str | None:
    value = props.get("tiff.DateTime")
    return iso_datetime(value) if value else None
