"""JPEG 2000: JP2 files and raw J2K codestreams, 8 to 16 bits, grey, RGB or with alpha.

Pixels: Pillow (OpenJPEG, decoded tile by tile into one image buffer) for 8-bit samples and
16-bit grey; imagecodecs (OpenJPEG too) for other depths, which Pillow would cut to 8 bits.
Neither gives region access, so a plane is decoded whole (see :mod:`.pixels`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_COMMON, Format, Source
from cytotile.formats.common import VipsSource, add_note, base_metadata
from cytotile.formats.pillow import jp2head, pixels


class Jpeg2000Format(Format):
    id = "JPEG2000"
    name = "JPEG 2000"
    order = ORDER_COMMON + 30
    remarks = (
        "JP2 files and raw J2K codestreams; grey or colour, 8 to 16 bits; "
        "transparency is flattened onto white."
    )

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return head.startswith((jp2head.JP2_SIGNATURE, jp2head.J2K_SIGNATURE))

    @classmethod
    def open(cls, path: Path) -> Source:
        from cytotile.formats.pillow import declared

        header = declared.check_jpeg2000(path, max_pixels=None)
        if header.signed:
            raise FormatError("JPEG 2000 with signed samples is not supported")
        if header.bits > 16:
            raise FormatError(f"JPEG 2000 with {header.bits}-bit samples is not supported")
        if header.components not in (1, 2, 3, 4):
            raise FormatError(f"JPEG 2000 with {header.components} components is not supported")
        raw = dict(header.raw)
        n = 1 if header.components in (1, 2) and not raw.get("JPEG2000.Palette") else 3
        pixel_type = "uint8" if header.bits <= 8 else "uint16"
        if header.components in (2, 4):
            add_note(raw, "alpha flattened onto white")
        if raw.get("JPEG2000.Palette"):
            add_note(raw, "palette expanded to RGB")
        px = py = None
        if header.pixels_per_meter:
            px, py = (1e6 / v for v in header.pixels_per_meter)
        metadata = base_metadata(
            cls.id,
            header.width,
            header.height,
            n,
            pixel_type,
            physical_size_x=px,
            physical_size_y=py,
            description=raw.get("JPEG2000.Comment"),
            raw_metadata=raw,
        )
        metadata.significant_bits = header.bits if header.bits > 8 else 8

        def load() -> Any:
            if header.bits == 8 or (header.bits == 16 and header.components == 1):
                with pixels.pillow_image(path) as image:
                    image.load()
                    return pixels.from_pillow(image)
            import imagecodecs

            return pixels.from_array(imagecodecs.jpeg2k_decode(path.read_bytes()))

        return VipsSource(metadata, load)
