"""Planar TIFF: a TIFF neither pyramidal nor of a vendor format; its first page is the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_TIFF, Format, ImageMetadata, Source
from cytotile.formats.common import (
    VipsSource,
    add_note,
    base_metadata,
    decoding,
    normalize,
    vips_pixel_type,
)
from cytotile.formats.tiff import structure, tags
from cytotile.formats.tiff.structure import TiffInfo, TiffPage


def plain_tiff(info: TiffInfo) -> bool:
    """No vendor signature and a first page we decode as 8/16-bit grey or RGB."""
    return info.vendor is None and structure.unsupported_reason(info.pages[0]) is None


def open_tiff(format_id: str, path: Path, pages: list[TiffPage], info: TiffInfo) -> Source:
    """A source reading page 0 with libvips, after the safety checks of ``pages``."""
    safety.check_tiff(info, pages, max_pixels=None)
    page = pages[0]
    reason = structure.unsupported_reason(page)
    if reason:
        raise FormatError(f"unsupported TIFF: {reason}")

    def load() -> Any:
        import pyvips

        return pyvips.Image.tiffload(str(path), page=0, access="sequential", fail_on="error")

    with decoding("TIFF header"):
        header = load()
        bands = header.bands
        pixel_type = vips_pixel_type(header)
    raw = dict(info.raw)
    raw["tiff.PageCount"] = info.n_pages
    conversion_notes(raw, page, bands, pixel_type)
    px, py = tags.physical_sizes(raw)
    description = raw.get("tiff.ImageDescription")
    metadata = base_metadata(
        format_id,
        page.width,
        page.height,
        3 if bands >= 3 else 1,
        pixel_type,
        physical_size_x=px,
        physical_size_y=py,
        acquired_at=tags.acquisition_date(raw),
        description=description if isinstance(description, str) else "",  # PIMS: "" when none
        raw_metadata=raw,
    )
    depth, axis = stack_depth(path, info) if format_id == "PLANARTIFF" else (1, "Z")
    if depth > 1:
        safety.check_tiff(info, list(info.pages), max_pixels=None)  # every page is decoded
        return stack_source(path, metadata, depth, axis)
    source = VipsSource(metadata, load)
    if pixel_type == "uint8" and bands in (1, 3) and page.photometric in (1, 2, 6):
        source.tiff_page = (path, 0)  # the plane is page 0 as stored: its tiles may be copied
    return source


def conversion_notes(raw: dict[str, Any], page: TiffPage, bands: int, pixel_type: str) -> None:
    if page.photometric == 3:
        add_note(raw, "palette expanded to RGB" if bands >= 3 else "grey palette applied")
    if page.photometric == 0:
        add_note(raw, "min-is-white samples inverted")
    if page.bits < 8:
        add_note(raw, f"{page.bits}-bit samples expanded to 8 bits")
    if page.samples in (2, 4):
        add_note(raw, "alpha flattened onto white")
    if page.bits == 8 and pixel_type != "uint8":
        add_note(raw, f"decoded as {pixel_type}")


def _kind(page: TiffPage) -> tuple[int, ...]:
    return (page.width, page.height, page.samples, page.bits, page.sample_format, page.photometric)


def stack_depth(path: Path, info: TiffInfo) -> tuple[int, str]:
    """(planes, "Z" or "T") of a multi-page stack: every page like the first (checked past the
    pages ``inspect`` looked at too); T when the file's own axes say time, else Z. (1, "Z")
    for any other TIFF (a thumbnail page, pages of different sizes...)."""
    if info.n_pages < 2 or any(_kind(p) != _kind(info.pages[0]) for p in info.pages):
        return 1, "Z"
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if info.n_pages > len(info.pages):
            first = tif.pages.first
            kind = (first.shape, first.dtype, first.photometric)
            for page in tif.pages[len(info.pages) :]:
                if (page.shape, page.dtype, getattr(page, "photometric", None)) != kind:
                    return 1, "Z"
        axes = str(tif.series[0].axes) if tif.series else ""
    return info.n_pages, "T" if axes[:1] == "T" else "Z"


def stack_source(path: Path, metadata: ImageMetadata, depth: int, axis: str) -> Source:
    """Planes of a multi-page stack: page ``z`` (or ``t``) of the file, decoded by libvips."""
    from cytotile.formats.microscopy.planes import PlaneSource, check_planes

    check_planes(metadata.format_id, depth)
    if axis == "T":
        metadata.duration = depth
    else:
        metadata.depth = depth
    add_note(metadata.raw_metadata, f"{depth} identical pages read as {axis} planes")

    def read(c: int, z: int, t: int) -> Any:
        import pyvips

        image = pyvips.Image.tiffload(
            str(path), page=t if axis == "T" else z, access="sequential", fail_on="error"
        )
        return normalize(image, metadata.pixel_type)

    return PlaneSource(metadata, read)


class PlanarTiffFormat(Format):
    id = "PLANARTIFF"
    name = "Planar TIFF"
    order = ORDER_TIFF + 90
    remarks = "Non-pyramidal TIFF, 8 or 16 bits, grey or RGB; identical pages are a Z (or T) stack."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not structure.is_tiff(head):
            return False
        info = structure.inspect(path)
        return plain_tiff(info) and len(structure.pyramid_pages(info)) < 2

    @classmethod
    def open(cls, path: Path) -> Source:
        info = structure.inspect(path)
        return open_tiff(cls.id, path, [info.pages[0]], info)
