"""Aperio SVS: a TIFF whose first ImageDescription starts with "Aperio"; label, macro, thumb."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_VENDOR, AssociatedInfo, Format, ImageMetadata, Source
from cytotile.formats.common import base_metadata, decoding, normalize, short_reason, typed
from cytotile.formats.openslide.stream import level0_image, rgb_bytes
from cytotile.formats.tiff import structure

if TYPE_CHECKING:
    import pyvips

ASSOCIATED = {"label": "label", "macro": "macro", "thumbnail": "thumb"}  # OpenSlide -> PIMS
LIBVIPS_COMPRESSIONS = {1, 5, 7, 8, 32946}  # what libvips decodes in an SVS level 0
APERIO_JP2K = {33003: "YCbCr", 33005: "RGB"}  # JPEG 2000 tiles OpenSlide decodes in an SVS
TZ = re.compile(r"GMT\s*([+-])(\d{1,2}):?(\d{2})?")
LIBRARY = "Aperio Image Library"


def aperio_metadata(description: str) -> dict[str, Any]:
    """``APERIO.*`` raw metadata from the first page's ImageDescription, as PIMS reads it: the
    library version of the first line (``Aperio Image Library``), the text up to the first
    ``|`` (``Description``: sizes, tile size, compression), then ``key = value`` pairs, numbers
    typed. Later duplicates win."""
    first, _, rest = description.partition("\n")
    raw: dict[str, Any] = {}
    head = first.strip()
    if head.startswith(LIBRARY):
        raw[f"APERIO.{LIBRARY}"] = head[len(LIBRARY) :].strip()
    elif head:
        rest = description
    items = rest.split("|")
    if items and items[0].strip():
        raw["APERIO.Description"] = items[0].strip()
    for item in items[1:]:
        key, sep, value = item.partition("=")
        if sep and key.strip():
            raw[f"APERIO.{key.strip()}"] = typed(value)
    return raw


def svs_raw(info: structure.TiffInfo, props: dict[str, str]) -> dict[str, Any]:
    """Raw metadata of an SVS: the TIFF baseline tags of its first page (``TIFF.*``,
    ``EXIF.*``), the Aperio description (``APERIO.*``) and what OpenSlide adds
    (``OPENSLIDE.*``, numbers typed). OpenSlide's own copies of the first two are left out."""
    raw = {f"{k.partition('.')[0].upper()}.{k.partition('.')[2]}": v for k, v in info.raw.items()}
    raw.update(aperio_metadata(info.pages[0].description))
    for key, value in props.items():
        name = key.partition(".")[2]
        if key.startswith("openslide.") and not name.startswith("level["):
            raw[f"OPENSLIDE.{name}"] = typed(value)
    return raw


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def acquisition_date(props: dict[str, str]) -> str | None:
    """ISO 8601 from Aperio's ``Date`` (mm/dd/yy), ``Time`` and optional ``Time Zone``."""
    date, time = props.get("aperio.Date"), props.get("aperio.Time", "00:00:00")
    if not date:
        return None
    for fmt in ("%m/%d/%y %H:%M:%S", "%m/%d/%Y %H:%M:%S"):
        try:
            iso = datetime.strptime(f"{date} {time}", fmt).isoformat()
            break
        except ValueError:
            continue
    else:
        return None
    zone = TZ.search(props.get("aperio.Time Zone", ""))
    if zone:
        iso += f"{zone.group(1)}{int(zone.group(2)):02d}:{zone.group(3) or '00'}"
    return iso


class SvsSource(Source):
    def __init__(self, metadata: ImageMetadata, path: Path, slide: Any, use_libvips: bool) -> None:
        self.metadata = metadata
        self._path, self._slide, self._libvips = path, slide, use_libvips
        # level 0 as stored: JPEG tiles may be re-tiled (the converter checks the rest)
        self.tiff_page = (path, 0) if use_libvips else None

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        if (c, z, t) != (0, 0, 0):
            raise ValueError(f"no plane c={c} z={z} t={t}: the image has a single plane")
        with decoding("SVS level 0"):
            if self._libvips:
                import pyvips

                image = pyvips.Image.tiffload(
                    str(self._path), page=0, access="sequential", fail_on="error"
                )
            else:
                image = level0_image(self._slide)
            return normalize(image, "uint8")

    def associated(self, name: str) -> pyvips.Image | None:
        key = {v: k for k, v in ASSOCIATED.items()}.get(name)
        if key is None or key not in list(self._slide.associated_images):
            return None
        import pyvips

        with decoding(f"SVS {name} image"):
            rgba = self._slide.associated_images[key]
            data = rgb_bytes(rgba)
            image = pyvips.Image.new_from_memory(data, rgba.width, rgba.height, 3, "uchar")
            return image.copy(interpretation="srgb")

    def close(self) -> None:
        self._slide.close()


class SvsFormat(Format):
    id = "SVS"
    name = "Leica Aperio SVS"
    order = ORDER_VENDOR + 10
    remarks = "Whole-slide images from Aperio scanners, with label, macro and thumbnail."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not structure.is_tiff(head):
            return False
        return structure.inspect(path).pages[0].description.startswith("Aperio")

    @classmethod
    def open(cls, path: Path) -> Source:
        import openslide

        info = structure.inspect(path)
        page = info.pages[0]
        safety.check_tiff(info, [page], max_pixels=None)
        if (page.samples, page.bits) != (3, 8):
            raise FormatError(f"unsupported SVS: {page.samples} samples of {page.bits} bits")
        use_libvips = page.compression in LIBVIPS_COMPRESSIONS
        if page.compression in structure.JPEG2000 and page.compression not in APERIO_JP2K:
            raise FormatError(
                f"unsupported SVS: JPEG 2000 compression {page.compression} (only Aperio's "
                "33003 and 33005 JPEG 2000 tiles are read)"
            )
        if not use_libvips and page.compression not in APERIO_JP2K:
            raise FormatError(f"unsupported SVS: compression {page.compression}")
        try:
            slide = openslide.OpenSlide(str(path))
        except openslide.OpenSlideError as exc:
            raise FormatError(f"OpenSlide cannot read this SVS: {short_reason(exc)}") from exc
        props = dict(slide.properties)
        raw = svs_raw(info, props)
        width, height = slide.dimensions
        metadata = base_metadata(
            cls.id,
            width,
            height,
            3,
            "uint8",
            physical_size_x=_float(props.get("aperio.MPP")),
            physical_size_y=_float(props.get("aperio.MPP")),
            objective_nominal_magnification=_float(props.get("aperio.AppMag")),
            microscope_model=props.get("aperio.ScanScope ID"),
            acquired_at=acquisition_date(props),
            description=props.get("tiff.ImageDescription"),
            raw_metadata=raw,
        )
        for key, name in ASSOCIATED.items():
            w = props.get(f"openslide.associated.{key}.width")
            h = props.get(f"openslide.associated.{key}.height")
            if w and h:
                metadata.associated[name] = AssociatedInfo(int(w), int(h), 3)
        return SvsSource(metadata, path, slide, use_libvips)
