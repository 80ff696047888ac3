"""The ``Image`` elements of an OME-XML document, sorted into what an import makes of them.

An OME-TIFF may hold several images. Each is its own image (the file is then a collection:
one upload per image), unless it belongs to another one:

- an image named ``label``, ``macro``, ``overview`` or ``thumbnail`` (Bio-Formats' names for a
  slide's associated images, also with `` image`` after them), of one plane of 8-bit grey or
  RGB, is an associated image of the file's images;
- an image with the same C, Z, T and pixel type as the image before it and exactly its size
  halved ``n`` times (floor or ceiling: how writers round) is a reduced level of it (older
  writers stored a pyramid as images instead of SubIFDs): its pixels are not needed, the
  serving pyramid is built from level 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cytotile.errors import FormatError

#: image names -> associated image (PIMS's names)
ASSOCIATED = {
    "label": "label",
    "macro": "macro",
    "overview": "macro",
    "thumbnail": "thumb",
}
MAX_HALVINGS = 16


@dataclass(frozen=True)
class OmeImage:
    index: int  # of the Image element in the document (and of tifffile's series)
    name: str
    sizes: tuple[int, int, int, int, int]  # X, Y, Z, C, T
    pixel_type: str  # OME's Type
    samples: int  # per pixel of a channel (3: interleaved RGB)


@dataclass
class Grouping:
    images: list[int] = field(default_factory=list)  # the separate images, in document order
    associated: dict[str, int] = field(default_factory=dict)  # label/macro/thumb -> image
    levels: dict[int, list[int]] = field(default_factory=dict)  # image -> its reduced levels


def _tag(element: Any) -> str:
    return re.sub(r"^\{[^}]*\}", "", element.tag)


def summaries(root: Any) -> list[OmeImage]:
    """Every ``Image`` with its ``Pixels`` of an OME-XML root element."""
    found = []
    for index, image in enumerate(e for e in root if _tag(e) == "Image"):
        pixels = next((e for e in image if _tag(e) == "Pixels"), None)
        if pixels is None:
            raise FormatError(f"OME-XML Image {index} has no Pixels")
        a = pixels.attrib
        try:
            sizes = tuple(int(a[k]) for k in ("SizeX", "SizeY", "SizeZ", "SizeC", "SizeT"))
        except (KeyError, ValueError) as exc:
            raise FormatError(f"OME-XML Image {index}: Pixels lacks or mangles {exc}") from exc
        channel = next((e for e in pixels if _tag(e) == "Channel"), None)
        spp = channel.attrib.get("SamplesPerPixel", "1") if channel is not None else "1"
        found.append(
            OmeImage(
                index=index,
                name=str(image.attrib.get("Name") or f"Image {index}"),
                sizes=sizes,  # type: ignore[arg-type]
                pixel_type=str(a.get("Type", "")),
                samples=int(spp) if spp.isdigit() else 1,
            )
        )
    return found


def associated_name(image: OmeImage) -> str | None:
    """``label``/``macro``/``thumb`` when ``image`` is a slide's associated image."""
    name = image.name.strip().lower().removesuffix(" image")
    z, c, t = image.sizes[2:]
    one_plane = z == t == 1 and (c == 1 or (c == 3 and image.samples == 3))
    if name in ASSOCIATED and one_plane and image.pixel_type == "uint8":
        return ASSOCIATED[name]
    return None


def is_level_of(image: OmeImage, base: OmeImage) -> bool:
    """Whether ``image`` is ``base`` halved ``n >= 1`` times (same planes and type)."""
    if image.sizes[2:] != base.sizes[2:] or (image.pixel_type, image.samples) != (
        base.pixel_type,
        base.samples,
    ):
        return False
    width, height = base.sizes[0], base.sizes[1]
    for n in range(1, MAX_HALVINGS + 1):
        f = 1 << n
        if width < f and height < f:
            break
        if image.sizes[0] in (width // f, -(-width // f)) and image.sizes[1] in (
            height // f,
            -(-height // f),
        ):
            return image.sizes[0] > 0 and image.sizes[1] > 0
    return False


def group(images: list[OmeImage]) -> Grouping:
    """Which images are separate, which are associated, which are levels of another."""
    out = Grouping()
    previous: OmeImage | None = None
    for image in images:
        label = associated_name(image)
        if label is not None and label not in out.associated and len(images) > 1:
            out.associated[label] = image.index
        elif previous is not None and is_level_of(image, previous):
            out.levels.setdefault(previous.index, []).append(image.index)
        else:
            out.images.append(image.index)
            previous = image
    if not out.images:  # only associated-looking images: the first is the image
        first = min(out.associated.values())
        out.associated = {k: v for k, v in out.associated.items() if v != first}
        out.images = [first]
    return out
