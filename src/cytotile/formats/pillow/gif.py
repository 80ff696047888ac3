"""GIF (87a/89a), read by libvips: every frame is a time point (PIMS's T), rendered on the
logical screen as a viewer shows it; transparency is flattened onto white."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_COMMON, Format, ImageMetadata, Source
from cytotile.formats.common import add_note, base_metadata, decoding, normalize

MAX_FRAMES = 1000


@dataclass(frozen=True)
class GifHeader:
    version: str
    width: int
    height: int
    global_palette: int  # colours in the global table, 0 when there is none


def is_gif(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a")


def read_header(path: Path) -> GifHeader:
    with open(path, "rb") as fh:
        data = fh.read(13)
    if not is_gif(data) or len(data) < 13:
        raise FormatError("not a GIF file, or truncated in its header")
    width, height, flags = struct.unpack("<HHB", data[6:11])
    palette = 2 << (flags & 7) if flags & 0x80 else 0
    return GifHeader(data[3:6].decode(), width, height, palette)


class GifFormat(Format):
    id = "GIF"
    name = "GIF"
    order = ORDER_COMMON + 70
    remarks = "GIF 87a/89a; an animation is imported as a time series (T), frames on white."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return is_gif(head)

    @classmethod
    def open(cls, path: Path) -> Source:
        import pyvips

        from cytotile.formats.pillow import declared

        header = declared.check_gif(path, max_pixels=None)
        with decoding("GIF header"):
            first = pyvips.Image.gifload(str(path), access="sequential", fail_on="error")
            frames = first.get("n-pages") if first.get_typeof("n-pages") else 1
            delays = first.get("delay") if first.get_typeof("delay") else []
        if frames > MAX_FRAMES:
            raise FormatError(f"GIF with {frames} frames: more than the {MAX_FRAMES} imported")
        raw: dict[str, Any] = {
            "GIF.Version": header.version,
            "GIF.ImageWidth": header.width,
            "GIF.ImageHeight": header.height,
            "GIF.Frames": frames,
            "GIF.GlobalPaletteColours": header.global_palette,
        }
        add_note(raw, "palette expanded to RGB, transparency flattened onto white")
        metadata = base_metadata(cls.id, header.width, header.height, 3, "uint8", raw_metadata=raw)
        if frames > 1:
            metadata.duration = frames
            total_ms = sum(d for d in list(delays)[:frames] if d > 0)
            raw["GIF.Delays"] = list(delays)[:frames]
            if total_ms:
                metadata.frame_rate = round(frames * 1000 / total_ms, 6)
        return GifSource(path, metadata)


class GifSource(Source):
    def __init__(self, path: Path, metadata: ImageMetadata) -> None:
        self.path, self.metadata = path, metadata

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> Any:
        import pyvips

        if c or z or not 0 <= t < self.metadata.duration:
            raise ValueError(
                f"no plane c={c} z={z} t={t}: the GIF has {self.metadata.duration} frames"
            )
        with decoding("GIF frame"):
            image = pyvips.Image.gifload(
                str(self.path), page=t, access="sequential", fail_on="error"
            )
            if image.bands in (1, 2):
                image = image.colourspace("srgb")
            return normalize(image, "uint8")
