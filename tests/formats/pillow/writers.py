"""Writers of the variants no sample has and Pillow cannot write: BMPs of every layout (top-down,
bit fields with alpha, RLE8, 1/4-bit palettes, 16-bit), Netpbm ASCII and 16-bit, hostile
headers. Byte layouts from the formats' specifications."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def bmp(
    path: Path,
    pixels: np.ndarray,
    *,
    bits: int,
    top_down: bool = False,
    palette: np.ndarray | None = None,
    alpha_mask: bool = False,
    rle8: bool = False,
) -> Path:
    """``pixels``: indices (h, w) for bits <= 8, else (h, w, 3 or 4) RGB(A) uint8."""
    height, width = pixels.shape[:2]
    rows = pixels if top_down else pixels[::-1]
    if rle8:
        data, compression = _rle8(rows), 1
    else:
        data, compression = b"".join(_row(r, bits) for r in rows), 3 if alpha_mask else 0
    dib = 108 if alpha_mask else 40
    colours = b""
    if palette is not None:
        colours = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    offset = 14 + dib + len(colours)
    info = struct.pack(
        "<IiiHHIIiiII",
        dib,
        width,
        -height if top_down else height,
        1,
        bits,
        compression,
        len(data),
        3780,  # 96 dpi
        3780,
        0 if palette is None else len(palette),
        0,
    )
    if alpha_mask:  # BITMAPV4HEADER: R, G, B, A masks, colour space, endpoints, gamma
        info += struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
        info += b"BGRs" + bytes(36) + bytes(12)
    head = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
    path.write_bytes(head + info + colours + data)
    return path


def _row(row: np.ndarray, bits: int) -> bytes:
    if bits in (1, 4, 8):
        per = 8 // bits
        padded = np.zeros(-(-row.size // per) * per, np.uint8)
        padded[: row.size] = row
        packed = np.zeros(padded.size // per, np.uint8)
        for i in range(per):
            packed |= (padded[i::per] << (8 - bits * (i + 1))).astype(np.uint8)
        raw = packed.tobytes()
    elif bits == 16:  # RGB555
        r, g, b = (row[:, i].astype(np.uint16) >> 3 for i in range(3))
        raw = ((r << 10) | (g << 5) | b).astype("<u2").tobytes()
    else:
        bgr = row[:, [2, 1, 0, 3][: row.shape[1]]] if row.shape[1] == 4 else row[:, ::-1]
        if bits == 32 and bgr.shape[1] == 3:
            bgr = np.concatenate([bgr, np.zeros((row.shape[0], 1), np.uint8)], axis=1)
        raw = np.ascontiguousarray(bgr).tobytes()
    return raw + bytes(-len(raw) % 4)


def _rle8(rows: np.ndarray) -> bytes:
    out = bytearray()
    for row in rows:
        x = 0
        while x < row.size:
            run = 1
            while x + run < row.size and run < 255 and row[x + run] == row[x]:
                run += 1
            out += bytes([run, int(row[x])])
            x += run
        out += b"\x00\x00"  # end of line
    return bytes(out + b"\x00\x01")  # end of bitmap


def pnm(path: Path, pixels: np.ndarray, *, maxval: int, ascii: bool, comment: str = "") -> Path:
    """PGM/PPM of (h, w) or (h, w, 3) samples <= maxval."""
    height, width = pixels.shape[:2]
    colour = pixels.ndim == 3
    magic = ("P3" if colour else "P2") if ascii else ("P6" if colour else "P5")
    head = f"{magic}\n" + (f"# {comment}\n" if comment else "") + f"{width} {height}\n{maxval}\n"
    if ascii:
        lines = [" ".join(str(int(v)) for v in row.reshape(-1)) for row in pixels]
        body = ("\n".join(lines) + "\n").encode()
    else:
        body = pixels.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    path.write_bytes(head.encode() + body)
    return path


def pbm(path: Path, bits: np.ndarray, *, ascii: bool) -> Path:
    """PBM of (h, w) 0/1 values (1 is black)."""
    height, width = bits.shape
    if ascii:
        body = "\n".join("".join(str(int(v)) for v in row) for row in bits).encode() + b"\n"
        path.write_bytes(f"P1\n{width} {height}\n".encode() + body)
    else:
        packed = np.packbits(bits.astype(np.uint8), axis=1).tobytes()
        path.write_bytes(f"P4\n{width} {height}\n".encode() + packed)
    return path
