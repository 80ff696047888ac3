"""Synthetic images for tests: tissue-like pictures, small TIFFs, and deliberately broken files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from cytotile.synthetic import tissue_image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NP_DTYPES = {"uchar": np.uint8, "ushort": np.uint16, "char": np.int8, "short": np.int16}


def tissue(width: int, height: int, seed: int = 1) -> pyvips.Image:
    """A lazily computed, tissue-like (H&E) 8-bit RGB image of any size; cheap to build."""
    return tissue_image(width, height, seed)


def to_numpy(image: pyvips.Image) -> np.ndarray:
    """Pixels of a libvips image as a (height, width, bands) array."""
    data = image.write_to_memory()
    return np.ndarray(
        buffer=data, dtype=NP_DTYPES[image.format], shape=(image.height, image.width, image.bands)
    )


def write_pyramidal_tiff(
    path: Path, image: pyvips.Image, *, tile: int = 64, compression: str = "deflate", **kw: Any
) -> Path:
    """A tiled pyramidal TIFF, levels as successive pages (what libvips and most tools write)."""
    image.tiffsave(
        str(path),
        tile=True,
        tile_width=tile,
        tile_height=tile,
        pyramid=True,
        compression=compression,
        **kw,
    )
    return path


def write_tiff(path: Path, array: np.ndarray, **kw: Any) -> Path:
    """A TIFF written by tifffile (planar by default): ``kw`` goes to ``tifffile.imwrite``."""
    import tifffile

    tifffile.imwrite(path, array, **kw)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png_header_only(
    path: Path, width: int, height: int, *, bit_depth: int = 8, color_type: int = 2
) -> Path:
    """A well-formed PNG (valid CRCs) that declares ``width`` x ``height`` but holds a tiny IDAT:
    a decompression bomb for decoders that trust the header."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    data = PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
    path.write_bytes(data + png_chunk(b"IEND", b""))
    return path


def write_tiff_bad_ifd(path: Path, offset: int = 1_000_000) -> Path:
    """A TIFF header whose first image directory offset points past the end of the file."""
    path.write_bytes(b"II*\x00" + struct.pack("<I", offset) + bytes(64))
    return path


def write_jpeg_declaring(path: Path, width: int, height: int) -> Path:
    """A real 16x16 JPEG whose frame header (SOF) is patched to declare ``width`` x ``height``."""
    data = bytearray(tissue(16, 16).jpegsave_buffer(Q=90))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    path.write_bytes(bytes(data))
    return path


APERIO = "Aperio Image Library v12.0.0\r\n"


def write_svs(
    path: Path,
    base: np.ndarray,
    *,
    properties: str = "AppMag = 40|MPP = 0.2500|Date = 03/04/21|Time = 13:14:15",
    compression: str = "zlib",
) -> Path:
    """An Aperio SVS that OpenSlide recognizes: tiled level 0 (RGB ``base``), a thumbnail, a
    label and a macro image. Lossless (``zlib``) so pixels can be compared exactly."""
    import tifffile

    h, w = base.shape[:2]
    kw: dict[str, Any] = {"photometric": "rgb", "metadata": None}
    with tifffile.TiffWriter(path) as tw:
        level0 = f"{APERIO}{w}x{h} [0,0 {w}x{h}] (256x256) RAW|{properties}"
        tw.write(base, tile=(256, 256), description=level0, compression=compression, **kw)
        thumb = np.ascontiguousarray(base[::4, ::4])
        tw.write(thumb, description=f"{APERIO}{w}x{h} -> {thumb.shape[1]}x{thumb.shape[0]}", **kw)
        label = np.ascontiguousarray(base[: h // 4, : w // 5])
        tw.write(label, description=f"{APERIO}label", subfiletype=1, **kw)
        macro = np.ascontiguousarray(base[: h // 8, :])
        tw.write(macro, description=f"{APERIO}macro", subfiletype=9, **kw)
    return path
