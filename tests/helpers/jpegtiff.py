"""JPEG-tiled TIFFs as scanners write them, for the re-tiling tests: any tile size, sampling,
restart interval, tables shared (JPEGTables) or per tile, written from tiles libjpeg encoded."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyvips

from cytotile.importer import jpegmarkers as jm
from cytotile.tiff import layout as L
from cytotile.tiff.writer import jpeg_ifd, write_ifds

Encoder = Callable[[np.ndarray, int], bytes]  # (tile pixels, tile index) -> complete JPEG


def texture(width: int, height: int, seed: int = 1) -> np.ndarray:
    """Smooth colour blobs with grey grain: compresses like tissue, not like colour noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3)).astype(np.uint8)
    image = pyvips.Image.new_from_array(small).resize(16, kernel="cubic")
    pixels = image.numpy()[:height, :width].astype(np.int16)
    pixels += rng.integers(-12, 13, (height, width, 1), dtype=np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def libjpeg(
    quality: int = 75, subsample: bool = True, restart: int = 0, progressive: bool = False
) -> Encoder:
    def encode(tile: np.ndarray, index: int) -> bytes:
        grey = tile.ndim == 3 and tile.shape[2] == 1
        image = pyvips.Image.new_from_array(tile).copy(interpretation="b-w" if grey else "srgb")
        options: dict[str, object] = {"Q": quality, "keep": "none", "interlace": progressive}
        options["subsample_mode"] = "on" if subsample else "off"
        if restart:
            options["restart_interval"] = restart
        return bytes(image.jpegsave_buffer(**options))

    return encode


def sampled(factors: str, quality: int = 75) -> Encoder:
    """Tiles with any libjpeg sampling, e.g. ``"4:1:1"`` (an MCU of 32x8 pixels)."""

    def encode(tile: np.ndarray, index: int) -> bytes:
        import tempfile

        import jpeglib

        image = jpeglib.from_spatial(tile)
        image.samp_factor = factors
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp, "tile.jpg")
            image.write_spatial(str(out), qt=quality)
            return out.read_bytes()

    return encode


def write_jpeg_tiff(
    path: Path,
    pixels: np.ndarray,
    tile: int,
    encode: Encoder,
    *,
    shared_tables: bool = True,
    photometric: int = 6,
    subsampling: tuple[int, int] = (2, 2),
) -> Path:
    """A single-page tiled TIFF of ``pixels`` (edge tiles padded by copying the edge)."""
    height, width = pixels.shape[:2]
    n_tx, n_ty = -(-width // tile), -(-height // tile)
    padded = np.pad(pixels, ((0, n_ty * tile - height), (0, n_tx * tile - width), (0, 0)), "edge")
    streams = [
        encode(np.ascontiguousarray(padded[y : y + tile, x : x + tile]), i)
        for i, (y, x) in enumerate(
            (ty * tile, tx * tile) for ty in range(n_ty) for tx in range(n_tx)
        )
    ]
    tables = None
    if shared_tables:
        split = [jm.split_tables(s) for s in streams]
        tables = split[0][0]
        assert all(t == tables for t, _ in split), "tiles coded with different tables"
        streams = [data for _, data in split]
    if photometric == 2:  # RGB-coded components, as Aperio writes them
        streams = [s if shared_tables else jm.mark_rgb(s) for s in streams]
    blob = path.with_suffix(".tiles")
    blob.write_bytes(b"".join(streams))
    fd = os.open(blob, os.O_RDONLY)
    try:
        n_samples = pixels.shape[2]
        ifd = jpeg_ifd(0, (width, height), n_samples, photometric, tables, subsampling, tile)
        pos = 0
        for stream in streams:
            ifd.tiles.append((fd, pos, len(stream)))
            pos += len(stream)
        write_ifds(path, [ifd], L.PyramidHeader(width, height, 1))
    finally:
        os.close(fd)
        blob.unlink()
    return path
