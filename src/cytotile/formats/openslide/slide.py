"""What the formats read through OpenSlide share: opening a slide (only in the import's isolated
steps, never at detection), PIMS metadata from its properties, level 0 as a lazy libvips image,
the associated images, and the TIFF page whose JPEG tiles the converter may copy.

A format subclasses :class:`OpenSlideFormat`: a checker by content (no OpenSlide call: a
malformed file could abort the process), the OpenSlide vendor names it expects, and optionally
``details`` (acquisition date, microscope...) and ``level0_page``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_VENDOR, AssociatedInfo, Format, ImageMetadata, Source
from cytotile.formats.common import base_metadata, decoding, normalize, short_reason, typed
from cytotile.formats.openslide.stream import level0_image, rgb_bytes

if TYPE_CHECKING:
    import pyvips

#: OpenSlide's associated image names -> PIMS's
ASSOCIATED = {"label": "label", "macro": "macro", "thumbnail": "thumb"}
MAX_VALUE = 4096  # characters of one raw metadata value kept


def positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def raw_properties(props: dict[str, str]) -> dict[str, Any]:
    """OpenSlide properties as PIMS raw metadata (docs/formats.md): the namespace upper-cased
    (``OPENSLIDE.mpp-x``, ``HAMAMATSU.SourceLens``, ``TIFF.Make``), numbers typed, long text
    cut. OpenSlide's per-level geometry is left out (the serving pyramid has its own)."""
    raw: dict[str, Any] = {}
    for key, value in props.items():
        namespace, dot, rest = key.partition(".")
        if dot and value is not None and not key.startswith("openslide.level["):
            raw[f"{namespace.upper()}.{rest}"] = typed(str(value)[:MAX_VALUE])
    return raw


def open_slide(path: Path, vendors: tuple[str, ...], what: str) -> Any:
    """``openslide.OpenSlide`` of ``path`` when OpenSlide reads it as one of ``vendors``, else a
    ``FormatError`` saying what OpenSlide made of it."""
    import openslide

    try:
        found = openslide.OpenSlide.detect_format(str(path))
    except Exception as exc:  # OpenSlideError, or an OSError on an unreadable file
        raise FormatError(f"OpenSlide cannot read this {what}: {short_reason(exc)}") from exc
    if found not in vendors:
        seen = f"it sees {found!r}" if found else "it does not recognize the file"
        raise FormatError(f"OpenSlide does not read this file as {what}: {seen}")
    try:
        return openslide.OpenSlide(str(path))
    except Exception as exc:
        reason = short_reason(exc).replace(f"{path.parent}/", "")  # no server paths in reasons
        raise FormatError(f"OpenSlide cannot read this {what}: {reason}") from exc


def slide_metadata(format_id: str, slide: Any, **fields: Any) -> ImageMetadata:
    """PIMS metadata of an OpenSlide slide: 8-bit RGB, physical pixel size and magnification
    from OpenSlide's standard properties unless ``fields`` gives them, associated sizes."""
    props = dict(slide.properties)
    width, height = slide.dimensions
    fields.setdefault("physical_size_x", positive(props.get("openslide.mpp-x")))
    fields.setdefault("physical_size_y", positive(props.get("openslide.mpp-y")))
    power = positive(props.get("openslide.objective-power"))
    fields.setdefault("objective_nominal_magnification", power)
    raw = raw_properties(props)
    raw.update(fields.pop("raw_metadata", {}))
    metadata = base_metadata(format_id, width, height, 3, "uint8", raw_metadata=raw, **fields)
    names = list(slide.associated_images)  # the names only: ``in`` on the map reads the image
    for key, name in ASSOCIATED.items():
        w = props.get(f"openslide.associated.{key}.width")
        h = props.get(f"openslide.associated.{key}.height")
        if w and h and key in names:
            metadata.associated[name] = AssociatedInfo(int(w), int(h), 3)
    return metadata


class SlideSource(Source):
    """Level 0 and associated images of an open OpenSlide slide."""

    def __init__(
        self, metadata: ImageMetadata, slide: Any, tiff_page: tuple[Path, int] | None = None
    ) -> None:
        self.metadata = metadata
        self._slide = slide
        self.tiff_page = tiff_page

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        if (c, z, t) != (0, 0, 0):
            raise ValueError(f"no plane c={c} z={z} t={t}: the image has a single plane")
        with decoding(f"{self.metadata.format_id} level 0"):
            return normalize(level0_image(self._slide), "uint8")

    def associated(self, name: str) -> pyvips.Image | None:
        key = {v: k for k, v in ASSOCIATED.items()}.get(name)
        if key is None or key not in list(self._slide.associated_images):
            return None
        import pyvips

        with decoding(f"{self.metadata.format_id} {name} image"):
            rgba = self._slide.associated_images[key]
            data = rgb_bytes(rgba.convert("RGBA"))
            image = pyvips.Image.new_from_memory(data, rgba.width, rgba.height, 3, "uchar")
            return image.copy(interpretation="srgb")

    def close(self) -> None:
        self._slide.close()


class OpenSlideFormat(Format):
    """A format whose pixels OpenSlide reads. Subclasses set ``vendors`` and ``match``."""

    order = ORDER_VENDOR + 50
    #: OpenSlide vendor names (``OpenSlide.detect_format``) this format accepts
    vendors: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def details(cls, path: Path, props: dict[str, str]) -> dict[str, Any]:
        """ImageMetadata fields beyond OpenSlide's standard properties."""
        return {}

    @classmethod
    def level0_page(cls, path: Path, slide: Any) -> tuple[Path, int] | None:
        """The TIFF page whose tiles are level 0 exactly, when the format has one."""
        return None

    @classmethod
    def open(cls, path: Path) -> Source:
        slide = open_slide(path, cls.vendors, cls.name)
        try:
            with decoding(f"{cls.name} metadata"):
                props = dict(slide.properties)
                metadata = slide_metadata(cls.id, slide, **cls.details(path, props))
                page = cls.level0_page(path, slide)
        except BaseException:
            slide.close()
            raise
        return SlideSource(metadata, slide, page)
