"""A small 3DHistech MRXS for tests, as OpenSlide's driver reads it (src/openslide-vendor-mirax.c):
``<name>.mrxs`` beside ``<name>/`` with Slidedat.ini, Index.dat and Data0000.dat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvips


def _i32(*values: int) -> bytes:
    return b"".join(v.to_bytes(4, "little", signed=True) for v in values)


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels)).copy(interpretation="srgb")
    return bytes(image.jpegsave_buffer(Q=92, subsample_mode="off", keep="none"))


def _index(
    slide_id: str, levels: list[list[tuple[int, int, int]]], records: list[tuple[int, int]]
) -> bytes:
    """Index.dat: version, slide id, the hierarchical root (a pointer per zoom level to a data
    page of (image index, offset, length, file) entries) and the non-hierarchical root (a
    pointer per record to a page holding one (0, 0, offset, length, file) item)."""
    head = b"01.02" + slide_id.encode()
    hier_table = len(head) + 8
    nonhier_table = hier_table + 4 * len(levels)
    pos = nonhier_table + 4 * len(records)
    body, level_ptrs, record_ptrs = b"", [], []
    for entries in levels:
        level_ptrs.append(pos)
        page = pos + 8
        chunk = _i32(0, page) + _i32(len(entries), 0)
        chunk += b"".join(_i32(index, offset, length, 0) for index, offset, length in entries)
        body, pos = body + chunk, pos + len(chunk)
    for offset, length in records:
        record_ptrs.append(pos)
        chunk = _i32(0, pos + 8) + _i32(1, 0, 0, 0, offset, length, 0)
        body, pos = body + chunk, pos + len(chunk)
    return head + _i32(hier_table, nonhier_table) + _i32(*level_ptrs) + _i32(*record_ptrs) + body


def write_mrxs(folder: Path, base: np.ndarray, name: str = "slide", tile: int = 256) -> Path:
    """A 3DHistech MRXS: ``<name>.mrxs`` and the folder ``<name>/`` holding Slidedat.ini,
    Index.dat and Data0000.dat (JPEG camera images on a grid without overlap, a 1:2 zoom level,
    the slide thumbnail as macro and the barcode as label). ``base`` is a whole number of
    ``tile`` x ``tile`` images, an even number of them across and down."""
    h, w = base.shape[:2]
    nx, ny = w // tile, h // tile
    assert (nx * tile, ny * tile) == (w, h) and nx % 2 == 0 and ny % 2 == 0
    data_dir = folder / name
    data_dir.mkdir(parents=True, exist_ok=True)
    blobs: list[bytes] = []

    def add(pixels: np.ndarray) -> tuple[int, int]:
        blob = jpeg_bytes(pixels)
        offset = sum(map(len, blobs))
        blobs.append(blob)
        return offset, len(blob)

    level0 = [
        (y * nx + x, *add(base[y * tile : (y + 1) * tile, x * tile : (x + 1) * tile]))
        for y in range(ny)
        for x in range(nx)
    ]
    half = base[::2, ::2]  # zoom level 1: one image per 2 x 2 camera images
    level1 = [
        (
            y * nx + x,
            *add(half[y // 2 * tile : (y // 2 + 1) * tile, x // 2 * tile : (x // 2 + 1) * tile]),
        )
        for y in range(0, ny, 2)
        for x in range(0, nx, 2)
    ]
    macro = add(base[::4, ::4])
    label = add(np.ascontiguousarray(np.rot90(base[: h // 2, : w // 3]).copy()))
    slide_id = "0f5e8c3a-synthetic-mrxs"
    (data_dir / "Data0000.dat").write_bytes(b"".join(blobs))
    (data_dir / "Index.dat").write_bytes(_index(slide_id, [level0, level1], [macro, label]))
    layer = "MICROMETER_PER_PIXEL_X = {0}\nMICROMETER_PER_PIXEL_Y = {0}\n".format
    (data_dir / "Slidedat.ini").write_text(
        f"[GENERAL]\nSLIDE_VERSION = 01.02\nSLIDE_ID = {slide_id}\nSLIDE_NAME = {name}\n"
        f"IMAGENUMBER_X = {nx}\nIMAGENUMBER_Y = {ny}\nOBJECTIVE_MAGNIFICATION = 20\n"
        "CameraImageDivisionsPerSide = 1\nSLIDE_CREATIONDATETIME = 04/03/2021 13:14:15\n"
        "[HIERARCHICAL]\nHIER_COUNT = 1\nHIER_0_NAME = Slide zoom level\nHIER_0_COUNT = 2\n"
        "HIER_0_VAL_0 = ZoomLevel_0\nHIER_0_VAL_0_SECTION = LAYER_0_LEVEL_0_SECTION\n"
        "HIER_0_VAL_1 = ZoomLevel_1\nHIER_0_VAL_1_SECTION = LAYER_0_LEVEL_1_SECTION\n"
        "NONHIER_COUNT = 1\nNONHIER_0_NAME = Scan data layer\nNONHIER_0_COUNT = 2\n"
        "NONHIER_0_VAL_0 = ScanDataLayer_SlideThumbnail\n"
        "NONHIER_0_VAL_0_SECTION = NONHIERLAYER_0_VAL_0_SECTION\n"
        "NONHIER_0_VAL_1 = ScanDataLayer_SlideBarcode\n"
        "NONHIER_0_VAL_1_SECTION = NONHIERLAYER_0_VAL_1_SECTION\n"
        "INDEXFILE = Index.dat\n"
        "[DATAFILE]\nFILE_COUNT = 1\nFILE_0 = Data0000.dat\n"
        + "".join(
            f"[LAYER_0_LEVEL_{n}_SECTION]\nIMAGE_CONCAT_FACTOR = {min(n, 1)}\n"
            "OVERLAP_X = 0\nOVERLAP_Y = 0\n"
            + layer(0.5 * 2**n)
            + f"IMAGE_FILL_COLOR_BGR = 16777215\nDIGITIZER_WIDTH = {tile}\n"
            f"DIGITIZER_HEIGHT = {tile}\nIMAGE_FORMAT = JPEG\n"
            for n in range(2)
        )
        + "[NONHIERLAYER_0_VAL_0_SECTION]\nTHUMBNAIL_IMAGE_TYPE = JPEG\n"
        "[NONHIERLAYER_0_VAL_1_SECTION]\nBARCODE_IMAGE_TYPE = JPEG\n"
    )
    named = folder / f"{name}.mrxs"
    named.write_text(f"3DHISTECH MRXS slide {slide_id}: its data is in the folder {name}/\n")
    return named
