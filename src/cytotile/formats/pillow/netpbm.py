"""Netpbm: PBM (P1/P4), PGM (P2/P5) and PPM (P3/P6), ASCII or binary, 1 to 16 bits.

Binary grey and colour rasters are mapped by libvips (``rawload``: nothing decoded up front,
bounded memory); bitmaps and ASCII rasters are parsed with numpy in chunks. Samples are scaled
from ``0..maxval`` to the full range of 8 or 16 bits, as Pillow and libvips do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytotile.errors import ConversionError, FormatError
from cytotile.formats.base import ORDER_COMMON, Format, Source
from cytotile.formats.common import VipsSource, base_metadata
from cytotile.formats.pillow import pixels

KINDS = {
    b"P1": ("PBM", "ASCII", 1),
    b"P2": ("PGM", "ASCII", 1),
    b"P3": ("PPM", "ASCII", 3),
    b"P4": ("PBM", "binary", 1),
    b"P5": ("PGM", "binary", 1),
    b"P6": ("PPM", "binary", 3),
}
TOKEN = re.compile(rb"\s*(?:#[^\r\n]*[\r\n]\s*)*(\S+)")
CHUNK = 4 << 20  # bytes of ASCII raster parsed at a time


@dataclass(frozen=True)
class PnmHeader:
    magic: bytes
    width: int
    height: int
    maxval: int
    data_offset: int
    comments: str

    @property
    def kind(self) -> tuple[str, str, int]:
        return KINDS[self.magic]

    @property
    def bands(self) -> int:
        return self.kind[2]

    @property
    def raw_bytes(self) -> int:
        """Bytes the raster takes in a binary file (per row for bitmaps)."""
        if self.magic == b"P4":
            return (self.width + 7) // 8 * self.height
        return self.width * self.height * self.bands * (2 if self.maxval > 255 else 1)


def is_pnm(head: bytes) -> bool:
    return head[:2] in KINDS and head[2:3].isspace()


def read_header(path: Path) -> PnmHeader:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not is_pnm(head):
        raise FormatError("not a Netpbm (PBM/PGM/PPM) file")
    fields, pos = [], 2
    for _ in range(2 if head[:2] in (b"P1", b"P4") else 3):
        found = TOKEN.match(head, pos)
        if not found or not found.group(1).isdigit():
            raise FormatError("malformed Netpbm header: width, height or maxval missing")
        fields.append(int(found.group(1)))
        pos = found.end()
    if pos >= len(head) or not head[pos : pos + 1].isspace():
        raise FormatError("malformed or truncated Netpbm file: no raster after the header")
    maxval = fields[2] if len(fields) == 3 else 1
    if not 0 < maxval < 65536:
        raise FormatError(f"malformed Netpbm header: maxval {maxval} is not in 1..65535")
    comments = " ".join(
        c.decode("latin-1").strip() for c in re.findall(rb"#([^\r\n]*)", head[:pos])
    )
    return PnmHeader(head[:2], fields[0], fields[1], maxval, pos + 1, comments.strip())


class NetpbmFormat(Format):
    id = "PPM"
    name = "Netpbm PGM/PPM/PBM"
    order = ORDER_COMMON + 60
    remarks = "PBM, PGM and PPM, ASCII or binary, 1 to 16 bits per sample."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return is_pnm(head)

    @classmethod
    def open(cls, path: Path) -> Source:
        from cytotile.formats.pillow import declared

        header = declared.check_pnm(path, max_pixels=None)
        kind, encoding, bands = header.kind
        pixel_type = "uint16" if header.maxval > 255 else "uint8"
        raw: dict[str, Any] = {
            "PPM.Format": f"{kind} {encoding} ({header.magic.decode()})",
            "PPM.ImageWidth": header.width,
            "PPM.ImageHeight": header.height,
            "PPM.MaxValue": header.maxval,
        }
        if header.comments:
            raw["PPM.Comment"] = header.comments[:4096]
        metadata = base_metadata(
            cls.id,
            header.width,
            header.height,
            bands,
            pixel_type,
            description=header.comments or None,
            raw_metadata=raw,
        )
        return VipsSource(metadata, lambda: load(path, header))


def load(path: Path, header: PnmHeader) -> Any:
    import numpy as np

    if header.magic in (b"P5", b"P6"):
        return _scaled(_raw(path, header), header.maxval)
    shape = (header.height, header.width, header.bands)
    if header.magic == b"P4":
        row = (header.width + 7) // 8
        data = np.fromfile(path, np.uint8, row * header.height, offset=header.data_offset)
        bits = np.unpackbits(data.reshape(header.height, row), axis=1)[:, : header.width]
        return pixels.from_array((1 - bits) * np.uint8(255))  # PBM: 1 is black
    values = _ascii_values(path, header, shape[0] * shape[1] * shape[2])
    if header.magic == b"P1":
        return pixels.from_array(((1 - values) * 255).astype(np.uint8).reshape(shape[:2]))
    dtype = np.uint16 if header.maxval > 255 else np.uint8
    top = 65535 if header.maxval > 255 else 255
    if header.maxval != top:
        values = values.astype(np.float64) * (top / header.maxval) + 0.5
    return pixels.from_array(values.clip(0, top).astype(dtype).reshape(shape))


def _raw(path: Path, header: PnmHeader) -> Any:
    import pyvips

    wide = header.maxval > 255
    image = pyvips.Image.rawload(
        str(path),
        header.width,
        header.height,
        header.bands,
        offset=header.data_offset,
        format="ushort" if wide else "uchar",
        interpretation=("rgb16" if header.bands == 3 else "grey16")
        if wide
        else ("srgb" if header.bands == 3 else "b-w"),
    )
    return image.byteswap() if wide and not _big_endian_host() else image


def _big_endian_host() -> bool:
    import sys

    return sys.byteorder == "big"


def _scaled(image: Any, maxval: int) -> Any:
    top = 65535 if maxval > 255 else 255
    if maxval == top:
        return image
    interpretation = image.interpretation
    return (image * (top / maxval) + 0.5).cast(image.format).copy(interpretation=interpretation)


def _ascii_values(path: Path, header: PnmHeader, count: int) -> Any:
    """``count`` samples of an ASCII raster (bits of P1 need no separators), parsed in chunks."""
    import numpy as np

    out = np.empty(count, np.uint32)
    done = 0
    with open(path, "rb") as fh:
        fh.seek(header.data_offset)
        rest = b""
        while done < count:
            chunk = fh.read(CHUNK)
            data, cut = rest + chunk, len(rest + chunk)
            if chunk:  # keep a partial token (or comment) for the next round
                cut = data.rfind(b"\n")
                cut = cut if cut >= 0 else max(data.rfind(b" "), data.rfind(b"\t"))
                cut = len(data) if cut < 0 else cut
            data, rest = re.sub(rb"#[^\r\n]*", b"", data[:cut]), data[cut:]
            if header.magic == b"P1":
                digits = np.frombuffer(re.sub(rb"\s+", b"", data), np.uint8)
                values = (digits == ord("1")).astype(np.uint32)
            else:
                values = np.array(data.split(), dtype=np.bytes_).astype(np.uint32)
            take = min(values.size, count - done)
            out[done : done + take] = values[:take]
            done += take
            if not chunk and not rest:
                break
    if done < count:
        raise ConversionError(f"truncated Netpbm raster: {done} of {count} samples")
    return out
