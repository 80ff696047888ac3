"""Helpers shared by the formats: channels, band normalization, decode-error mapping, a source."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cytotile.errors import ConversionError, CytotileError
from cytotile.formats.base import ChannelInfo, ImageMetadata, Source

if TYPE_CHECKING:
    import pyvips

#: libvips band format of each pixel type we produce
VIPS_FORMAT = {"uint8": "uchar", "uint16": "ushort"}
WHITE = {"uint8": 255, "uint16": 65535}
NOTES_KEY = "cytotile.Conversion"
NOISE = ("unable to call", "unable to load", "unable to write")  # libvips' wrapping lines
INTEGER = re.compile(r"^[+-]?\d+$")
DECIMAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?$")


def typed(text: str) -> Any:
    """A metadata value as the number it spells (``20`` -> 20, ``0.4990`` -> 0.499), else text."""
    value = text.strip()
    if INTEGER.match(value):
        return int(value)
    if DECIMAL.match(value):
        return float(value)
    return value


def channels_for(n_samples: int) -> list[ChannelInfo]:
    """PIMS channel names: R, G, B for interleaved RGB, L for grey."""
    if n_samples == 3:
        return [ChannelInfo(index=i, suggested_name=n) for i, n in enumerate("RGB")]
    return [ChannelInfo(index=0, suggested_name="L")]


def base_metadata(
    format_id: str, width: int, height: int, n_samples: int, pixel_type: str, **extra: Any
) -> ImageMetadata:
    """Metadata of a single 2D plane of ``n_samples`` (1 or 3) interleaved samples."""
    return ImageMetadata(
        format_id=format_id,
        width=width,
        height=height,
        n_channels=n_samples,
        n_concrete_channels=1,
        n_samples=n_samples,
        pixel_type=pixel_type,
        significant_bits=8 if pixel_type == "uint8" else 16,
        channels=channels_for(n_samples),
        **extra,
    )


def add_note(raw: dict[str, Any], note: str) -> None:
    """Record in raw metadata what the conversion did to the pixels (flattening, palette...)."""
    previous = raw.get(NOTES_KEY)
    raw[NOTES_KEY] = f"{previous}; {note}" if previous else note


def normalize(image: pyvips.Image, pixel_type: str) -> pyvips.Image:
    """Flatten an alpha band onto white and cast to ``pixel_type``: 1 or 3 bands out."""
    if image.bands in (2, 4):
        white = WHITE[pixel_type]
        image = image.flatten(background=[white] * (image.bands - 1), max_alpha=white)
    elif image.bands not in (1, 3):
        raise ConversionError(f"unexpected number of bands after decoding: {image.bands}")
    fmt = VIPS_FORMAT[pixel_type]
    return image if image.format == fmt else image.cast(fmt)


def vips_pixel_type(image: pyvips.Image) -> str:
    """``uint8`` or ``uint16`` from a libvips header; anything else is not supported here."""
    for pixel_type, fmt in VIPS_FORMAT.items():
        if image.format == fmt:
            return pixel_type
    raise ConversionError(f"unsupported pixel format after decoding: {image.format}")


def short_reason(exc: BaseException) -> str:
    """One line out of a (possibly multi-line) library error message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(NOISE)] or lines
    text = "; ".join(dict.fromkeys(lines)) or type(exc).__name__
    return text[:400]


@contextmanager
def decoding(what: str = "image") -> Iterator[None]:
    """Map decoder failures inside the block (libvips, OpenSlide, tifffile...) to
    ``ConversionError`` with a short reason. Domain errors pass through untouched."""
    try:
        yield
    except CytotileError:
        raise
    except MemoryError as exc:
        raise ConversionError(f"out of memory while decoding the {what}") from exc
    except Exception as exc:  # any decoder error is a conversion failure
        raise ConversionError(f"cannot decode the {what}: {short_reason(exc)}") from exc


def iso_datetime(value: str, formats: tuple[str, ...] = ("%Y:%m:%d %H:%M:%S",)) -> str | None:
    """An ISO 8601 string out of a date in one of ``formats`` (EXIF/TIFF style by default)."""
    value = value.strip().rstrip("\x00")
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).isoformat()
        except ValueError:
            continue
    return None


class VipsSource(Source):
    """A single-plane source whose plane is produced by ``load`` (a lazy libvips image)."""

    def __init__(self, metadata: ImageMetadata, load: Callable[[], pyvips.Image]) -> None:
        self.metadata = metadata
        self._load = load

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        if (c, z, t) != (0, 0, 0):
            raise ValueError(f"no plane c={c} z={z} t={t}: the image has a single plane")
        with decoding():
            return normalize(self._load(), self.metadata.pixel_type)
