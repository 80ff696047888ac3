"""Leica LIF (readlif): one image per series. A file of several series is a collection (each
series its own upload: :meth:`LifFormat.images`, :meth:`LifFormat.open_image`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_MICROSCOPY, Format, Source
from cytotile.formats.common import decoding
from cytotile.formats.microscopy.planes import (
    NAMED,
    PlaneSource,
    array_to_vips,
    channel_list,
    served_type,
    stack_metadata,
)

MAGIC = b"\x70\x00\x00\x00"
MEMORY_BLOCK = 0x2A


def _image(fh: Any, index: int = 0) -> tuple[Any, list[str], list[str | None]]:
    """Series ``index``, the names of all, the LUT names of its channels (read through ``fh``,
    a file cytotile opens and closes: readlif leaves its own open)."""
    from readlif.reader import LifFile

    lif = LifFile(fh)
    names = [str(info.get("name")) for info in lif.image_list]
    if not names:
        raise FormatError("LIF file holds no image")
    if not 0 <= index < len(names):
        raise FormatError(f"LIF file holds {len(names)} series, not series {index + 1}")
    # readlif lists the Image elements that have a memory block, in document order
    found = list(lif.xml_root.iter("Image"))
    element = found[index] if len(found) == len(names) else None
    luts = (
        []
        if element is None
        else [
            ch.get("LUTName")
            for ch in element.iterfind("ImageDescription/Channels/ChannelDescription")
        ]
    )
    return lif.get_image(index), names, luts


class LifFormat(Format):
    id = "LIF"
    name = "Leica LIF"
    order = ORDER_MICROSCOPY + 40
    remarks = "Leica Image File: C/Z/T planes, 8/16-bit; several series: one image each."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return (
            head.startswith(MAGIC)
            and len(head) > 13
            and head[8] == MEMORY_BLOCK
            and "LMSDataContainerHeader".encode("utf-16-le") in head
        )

    @classmethod
    def images(cls, path: Path) -> list[str]:
        from readlif.reader import LifFile

        with open(path, "rb") as fh, decoding("LIF file"):
            names = [str(info.get("name")) for info in LifFile(fh).image_list]
        return names if len(names) > 1 else []

    @classmethod
    def open(cls, path: Path) -> Source:
        return cls.open_image(path, 0)

    @classmethod
    def open_image(cls, path: Path, index: int) -> Source:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the source
        try:
            with decoding("LIF file"):
                image, names, luts = _image(fh, index)
            return cls._source(fh, image, names, luts, index)
        except BaseException:
            fh.close()
            raise

    @classmethod
    def _source(
        cls, fh: Any, image: Any, names: list[str], luts: list[str | None], index: int
    ) -> Source:
        dims = image.dims
        if int(dims.m) > 1:
            raise FormatError("LIF mosaics (tiled series) are not supported yet")
        width, height = int(dims.x), int(dims.y)
        safety.check_dimensions(width, height, max_pixels=None, what="LIF")
        bits = max(int(b) for b in image.bit_depth)
        raw: dict[str, Any] = {"LIF.ImageName": image.name, "LIF.Series": names}
        raw.update({f"LIF.{k}": v for k, v in (image.settings or {}).items()})
        if len(names) > 1:
            raw["LIF.SeriesIndex"] = index  # 0-based, in LIF.Series
        pixel_type = served_type("uint8" if bits <= 8 else "uint16", raw)
        scale = image.scale
        px, py, pz = (1.0 / s if s else None for s in scale[:3])
        rate = scale[3] if len(scale) > 3 and scale[3] else None
        n_c = int(image.channels)
        meta = stack_metadata(
            cls.id,
            width,
            height,
            n_concrete_channels=n_c,
            depth=int(dims.z),
            duration=int(dims.t),
            pixel_type=pixel_type,
            significant_bits=bits,
            physical_size_x=px,
            physical_size_y=py,
            physical_size_z=pz,
            frame_rate=rate,
            raw_metadata=raw,
        )
        colors = [NAMED.get((lut or "").lower()) for lut in luts]  # LUTName: Red, Green...
        meta.channels = channel_list(n_c, [], colors if len(colors) == n_c else [], [])
        raw["LIF.LUTNames"] = [lut or "" for lut in luts]

        def read(c: int, z: int, t: int) -> Any:
            import numpy as np

            frame = np.asarray(image.get_frame(z=z, t=t, c=c))
            return array_to_vips(frame, pixel_type)

        return PlaneSource(meta, read, fh.close)
