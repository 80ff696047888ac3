"""JPEG 2000 structure without decoding: the JP2 boxes (ihdr, colr, res) and the codestream's
SIZ, COD and COM markers (ISO/IEC 15444-1 annex A and I)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError

JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
J2K_SIGNATURE = b"\xff\x4f\xff\x51"  # SOC then SIZ
MAX_BOXES = 256
PROGRESSIONS = {0: "LRCP", 1: "RLCP", 2: "RPCL", 3: "PCRL", 4: "CPRL"}
COLOURSPACES = {16: "sRGB", 17: "greyscale", 18: "sYCC", 12: "CMYK", 20: "e-sRGB", 21: "ROMM-RGB"}


@dataclass
class Jp2Header:
    codec: str  # "JP2" (boxed file) or "J2K" (raw codestream)
    width: int
    height: int
    components: int
    bits: int  # of the first component
    signed: bool
    codestream_offset: int
    raw: dict[str, Any] = field(default_factory=dict)
    pixels_per_meter: tuple[float, float] | None = None  # (x, y), capture resolution first


def read_header(path: Path) -> Jp2Header:
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head.startswith(J2K_SIGNATURE):
            return _codestream(fh, 0, "J2K", {})
        if head != JP2_SIGNATURE:
            raise FormatError("not a JPEG 2000 file")
        return _boxes(fh)


def _boxes(fh: Any) -> Jp2Header:
    raw: dict[str, Any] = {}
    ppm: dict[str, tuple[float, float]] = {}
    pos = 12
    for _ in range(MAX_BOXES):
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            break
        length, kind = struct.unpack(">I4s", head)
        start = pos + 8
        if length == 1:
            length, start = struct.unpack(">Q", fh.read(8))[0], pos + 16
        if kind == b"jp2c":
            header = _codestream(fh, start, "JP2", raw)
            resolution = ppm.get("resc") or ppm.get("resd")
            header.pixels_per_meter = resolution
            return header
        if kind in (b"jp2h", b"res "):
            pos = start  # superboxes: walk their children
            continue
        data = fh.read(min(length - (start - pos), 1 << 16)) if length else b""
        _box(kind, data, raw, ppm)
        if length == 0 or length < start - pos:
            break
        pos += length
    raise FormatError("malformed JPEG 2000 file: no codestream box (jp2c)")


def _box(kind: bytes, data: bytes, raw: dict[str, Any], ppm: dict[str, Any]) -> None:
    if kind == b"ftyp" and len(data) >= 8:
        raw["JPEG2000.Brand"] = data[:4].decode("latin-1").strip()
    elif kind == b"colr" and len(data) >= 3:
        if data[0] == 1 and len(data) >= 7:
            cs = struct.unpack(">I", data[3:7])[0]
            raw["JPEG2000.ColorSpace"] = COLOURSPACES.get(cs, str(cs))
        else:
            raw["JPEG2000.ColorSpace"] = "ICC profile"
    elif kind in (b"resc", b"resd") and len(data) >= 10:
        vn, vd, hn, hd, ve, he = struct.unpack(">HHHHbb", data[:10])
        if vd and hd and vn and hn:
            x, y = hn / hd * 10.0**he, vn / vd * 10.0**ve
            name = "Capture" if kind == b"resc" else "Display"
            raw[f"JPEG2000.{name}XResolution"] = round(x, 6)  # pixels per metre
            raw[f"JPEG2000.{name}YResolution"] = round(y, 6)
            ppm[kind.decode()] = (x, y)
    elif kind == b"pclr":
        raw["JPEG2000.Palette"] = True


def _codestream(fh: Any, offset: int, codec: str, raw: dict[str, Any]) -> Jp2Header:
    fh.seek(offset)
    data = fh.read(1 << 16)
    if not data.startswith(J2K_SIGNATURE) or len(data) < 42:
        raise FormatError("malformed JPEG 2000: the codestream does not start with SOC and SIZ")
    (lsiz,) = struct.unpack(">H", data[4:6])
    x, y, xo, yo, xt, yt, _xto, _yto, n = struct.unpack(">IIIIIIIIH", data[8:42])
    if n == 0 or len(data) < 42 + 3 * n or lsiz != 38 + 3 * n:
        raise FormatError("malformed JPEG 2000: bad SIZ marker")
    ssiz = data[42]
    bits, signed = (ssiz & 0x7F) + 1, bool(ssiz & 0x80)
    raw.update(
        {
            "JPEG2000.Codec": codec,
            "JPEG2000.ImageWidth": x - xo,
            "JPEG2000.ImageHeight": y - yo,
            "JPEG2000.Components": n,
            "JPEG2000.BitsPerComponent": bits,
            "JPEG2000.Signed": signed,
            "JPEG2000.TileWidth": xt,
            "JPEG2000.TileHeight": yt,
        }
    )
    _markers(data, 4 + lsiz, raw)
    return Jp2Header(codec, x - xo, y - yo, n, bits, signed, offset, raw)


def _markers(data: bytes, pos: int, raw: dict[str, Any]) -> None:
    """COD and COM markers of the main header, up to the first tile part (SOT)."""
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0x90:  # SOT: the main header is over
            break
        if marker == 0x52 and len(body) >= 10:
            raw["JPEG2000.ProgressionOrder"] = PROGRESSIONS.get(body[1], str(body[1]))
            raw["JPEG2000.QualityLayers"] = struct.unpack(">H", body[2:4])[0]
            raw["JPEG2000.DecompositionLevels"] = body[5]
            raw["JPEG2000.Transform"] = "5-3 reversible" if body[9] else "9-7 irreversible"
        elif marker == 0x64 and len(body) >= 2 and body[:2] == b"\x00\x01":
            text = body[2:].decode("latin-1").strip("\x00 \r\n")
            if text:
                raw["JPEG2000.Comment"] = text[:4096]
        pos += 2 + length
