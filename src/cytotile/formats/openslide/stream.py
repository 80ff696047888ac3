"""Level 0 of an OpenSlide slide as a lazy libvips image, with bounded memory.

libvips cannot call OpenSlide here, so the slide is presented to libvips' TIFF loader as a
*virtual* uncompressed tiled BigTIFF: a custom source whose header is built up front and whose
tile bytes are produced on demand with ``read_region``. Only the tile being read is in memory.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyvips

TILE = 512
_LONG8, _SHORT = 16, 3


def tile_size(width: int, height: int) -> int:
    """TILE, or less for a small slide: libvips refuses tiles much larger than the image (a
    16x16 slide in 512x512 tiles); TIFF tiles are multiples of 16."""
    return min(TILE, max(16, -(-max(width, height) // 16) * 16))


def _bigtiff_header(width: int, height: int, n_tiles: int, tile_bytes: int, tile: int) -> bytes:
    """A little-endian BigTIFF with one IFD: RGBA (unassociated alpha), 8 bits, uncompressed,
    tile x tile tiles."""
    n_tags, ifd_offset = 12, 16
    bps_offset = ifd_offset + 8 + n_tags * 20 + 8
    offsets_offset = bps_offset + 8
    counts_offset = offsets_offset + 8 * n_tiles
    data_offset = counts_offset + 8 * n_tiles

    def entry(code: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack("<HHQ", code, kind, count) + value.ljust(8, b"\x00")

    def short(v: int) -> bytes:
        return struct.pack("<H", v)

    def long8(v: int) -> bytes:
        return struct.pack("<Q", v)

    single = n_tiles == 1
    entries = [
        entry(256, _LONG8, 1, long8(width)),
        entry(257, _LONG8, 1, long8(height)),
        entry(258, _SHORT, 4, struct.pack("<HHHH", 8, 8, 8, 8)),
        entry(259, _SHORT, 1, short(1)),  # no compression
        entry(262, _SHORT, 1, short(2)),  # RGB
        entry(277, _SHORT, 1, short(4)),
        entry(284, _SHORT, 1, short(1)),  # contiguous
        entry(322, _SHORT, 1, short(tile)),
        entry(323, _SHORT, 1, short(tile)),
        entry(324, _LONG8, n_tiles, long8(data_offset if single else offsets_offset)),
        entry(325, _LONG8, n_tiles, long8(tile_bytes if single else counts_offset)),
        entry(338, _SHORT, 1, short(2)),  # extra sample: unassociated alpha
    ]
    head = b"II" + struct.pack("<HHHQ", 43, 8, 0, ifd_offset)
    ifd = struct.pack("<Q", n_tags) + b"".join(entries) + struct.pack("<Q", 0) + bytes(8)
    offsets = struct.pack(f"<{n_tiles}Q", *(data_offset + i * tile_bytes for i in range(n_tiles)))
    counts = struct.pack(f"<{n_tiles}Q", *([tile_bytes] * n_tiles))
    return head + ifd + offsets + counts


def rgb_bytes(rgba: Any, background: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    """RGB bytes of an (un-premultiplied) RGBA PIL image, transparency composited on background.
    An opaque image (most tiles) takes Pillow's own conversion: 3x faster than numpy here."""
    import numpy as np

    if rgba.mode != "RGBA":
        rgba = rgba.convert("RGBA")
    if rgba.getextrema()[3][0] == 255:
        return bytes(rgba.convert("RGB").tobytes())
    arr = np.asarray(rgba)
    rgb, alpha = arr[:, :, :3], arr[:, :, 3:4]
    if alpha.min() < 255:
        a = alpha.astype(np.uint32)
        bg = np.asarray(background, dtype=np.uint32)
        rgb = ((rgb * a + bg * (255 - a) + 127) // 255).astype(np.uint8)
    return np.ascontiguousarray(rgb).tobytes()


def level0_image(slide: Any, background: tuple[int, int, int] = (255, 255, 255)) -> pyvips.Image:
    """Level 0 of ``slide`` (an ``openslide.OpenSlide``) as an 8-bit RGB libvips image."""
    import pyvips

    width, height = slide.dimensions
    size = tile_size(width, height)
    across = -(-width // size)
    n_tiles = across * -(-height // size)
    tile_bytes = size * size * 4
    header = _bigtiff_header(width, height, n_tiles, tile_bytes, size)
    total = len(header) + n_tiles * tile_bytes
    state: dict[str, Any] = {"pos": 0, "tile": -1, "data": b""}

    def tile(index: int) -> bytes:
        if state["tile"] != index:
            x, y = (index % across) * size, (index // across) * size
            state["data"] = slide.read_region((x, y), 0, (size, size)).tobytes()
            state["tile"] = index
        return bytes(state["data"])

    def read(length: int) -> bytes:
        pos = state["pos"]
        if pos < len(header):
            out = header[pos : pos + length]
        elif pos < total:
            index, within = divmod(pos - len(header), tile_bytes)
            out = tile(index)[within : within + length]
        else:
            out = b""
        state["pos"] = pos + len(out)
        return out

    def seek(offset: int, whence: int) -> int:
        base = {0: 0, 1: state["pos"], 2: total}.get(whence)
        if base is None or base + offset < 0:
            return -1
        state["pos"] = base + offset
        return int(state["pos"])

    source = pyvips.SourceCustom()
    source.on_read(read)
    source.on_seek(seek)
    rgba = pyvips.Image.new_from_source(source, "", access="sequential", fail_on="error")
    # transparency (outside scanned areas) composited by libvips: no per-tile Python pass
    return rgba.flatten(background=list(background)).cast("uchar")
