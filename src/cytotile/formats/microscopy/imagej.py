"""ImageJ TIFF: hyperstacks (channels, slices, frames) and composites, one IFD per plane or
contiguous data; calibration (pixel width, spacing, frame interval), labels and LUT colours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.formats.base import ORDER_MICROSCOPY, Format, Source
from cytotile.formats.microscopy.ometiff import ome_xml, open_series
from cytotile.formats.microscopy.planes import channel_list
from cytotile.formats.tiff import structure, tags

MICRONS = {"micron": 1.0, "microns": 1.0, "um": 1.0, "µm": 1.0, "\\u00B5m": 1.0, "nm": 1e-3}
MICRONS.update({"mm": 1e3, "cm": 1e4, "m": 1e6, "µ": 1.0, "\u00b5m": 1.0})
KEPT = (
    "ImageJ",
    "images",
    "channels",
    "slices",
    "frames",
    "hyperstack",
    "mode",
    "unit",
    "spacing",
    "finterval",
    "fps",
    "loop",
    "min",
    "max",
)


def imagej_metadata(path: Path) -> dict[str, Any] | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.is_imagej:
            return None
        meta = dict(tif.imagej_metadata or {})
        page = tif.pages.first
        meta["_x_resolution"] = _resolution(page, 282)
        meta["_y_resolution"] = _resolution(page, 283)
        return meta


def _resolution(page: Any, code: int) -> float | None:
    tag = page.tags.get(code)
    if tag is None:
        return None
    num, den = tag.value
    return num / den if den else None


def lut_color(lut: Any) -> str | None:
    """The colour of a (3, 256) ImageJ LUT: its brightest entry."""
    try:
        r, g, b = (int(v) for v in lut[:, -1][:3])
    except (TypeError, ValueError, IndexError):
        return None
    return f"#{r:02X}{g:02X}{b:02X}"


class ImageJTiffFormat(Format):
    id = "IMAGEJTIFF"
    name = "ImageJ TIFF"
    order = ORDER_MICROSCOPY + 20
    remarks = "ImageJ hyperstacks and composites (C/Z/T), 8/16/32-bit, calibration and LUTs."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not structure.is_tiff(head):
            return False
        info = structure.inspect(path)
        return "imagej" in info.flags and info.vendor is None and ome_xml(path) is None

    @classmethod
    def open(cls, path: Path) -> Source:
        ij = imagej_metadata(path) or {}
        raw: dict[str, Any] = {f"IMAGEJ.{k}": ij[k] for k in KEPT if k in ij}
        info = structure.inspect(path)
        raw.update({k: v for k, v in info.raw.items() if k.startswith("tiff.Software")})
        scale = MICRONS.get(str(ij.get("unit", "")).strip())
        px = py = pz = None
        if scale is not None:
            xres, yres = ij.get("_x_resolution"), ij.get("_y_resolution")
            px = scale / xres if xres else None
            py = scale / yres if yres else None
            spacing = ij.get("spacing")
            pz = (
                float(spacing) * scale if isinstance(spacing, int | float) and spacing > 0 else None
            )
        else:
            px, py = tags.physical_sizes(info.raw)
        interval = ij.get("finterval")
        fps = ij.get("fps")
        rate = 1.0 / interval if isinstance(interval, int | float) and interval > 0 else None
        rate = rate or (float(fps) if isinstance(fps, int | float) and fps > 0 else None)
        source = open_series(
            cls.id,
            path,
            raw,
            physical_size_x=px,
            physical_size_y=py,
            physical_size_z=pz,
            frame_rate=rate,
        )
        meta = source.metadata
        labels = ij.get("Labels") or []
        n = meta.n_concrete_channels
        names = (
            [str(x) for x in labels[:n]] if len(labels) == n * meta.depth * meta.duration else []
        )
        luts = ij.get("LUTs") or []
        colors = [lut_color(lut) for lut in luts[:n]] if len(luts) >= n else []
        if meta.n_samples == 3:
            meta.channels = channel_list(3, list("RGB"), [], [])
        else:
            meta.channels = channel_list(n, names, colors, [])  # type: ignore[arg-type]
        return source
