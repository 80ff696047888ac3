"""Small multi-file whole-slide images for tests, as OpenSlide's drivers read them: Hamamatsu
VMS (a key file naming JPEGs with restart markers, a map and a macro image)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvips

NM_PER_PIXEL = 500


def _jpeg(path: Path, pixels: np.ndarray, restart: int) -> None:
    """Baseline 4:4:4 JPEG with a restart marker every ``restart`` MCUs (8x8 pixels): OpenSlide
    reads a VMS image by restart intervals, ``restart`` must divide the MCUs of a row."""
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels)).copy(interpretation="srgb")
    image.jpegsave(str(path), Q=90, restart_interval=restart, subsample_mode="off", keep="none")


def write_vms(folder: Path, base: np.ndarray, name: str = "slide") -> Path:
    """A Hamamatsu VMS in ``folder``: ``<name>.vms`` (the key file), one image JPEG, the map
    (a 1:8 overview) and the macro. Width a multiple of 64 and height of 8 keep the restart
    intervals whole. Returns the key file."""
    h, w = base.shape[:2]
    assert w % 64 == 0 and h % 8 == 0
    folder.mkdir(parents=True, exist_ok=True)
    _jpeg(folder / f"{name}.jpg", base, 8)
    overview = np.ascontiguousarray(base[::8, ::8])
    _jpeg(folder / f"{name}_map.jpg", overview, 1)
    _jpeg(folder / f"{name}_macro.jpg", np.ascontiguousarray(base[::2, ::4]), 1)
    key_file = folder / f"{name}.vms"
    key_file.write_text(
        "[Virtual Microscope Specimen]\r\n"
        "NoLayers=1\r\n"
        "NoJpegColumns=1\r\n"
        "NoJpegRows=1\r\n"
        f"ImageFile={name}.jpg\r\n"
        f"MapFile={name}_map.jpg\r\n"
        f"MacroImage={name}_macro.jpg\r\n"
        f"PhysicalWidth={w * NM_PER_PIXEL}\r\n"
        f"PhysicalHeight={h * NM_PER_PIXEL}\r\n"
        "SourceLens=20\r\n"
        "Reference=Synthetic\r\n"
    )
    return key_file


# ----------------------------------------------------------------------------- 3DHistech MRXS


def _i32(*values: int) -> bytes:
    return b"".join(v.to_bytes(4, "little", signed=True) for v in values)


def _jpeg_bytes(pixels: np.ndarray) -> bytes:
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
        blob = _jpeg_bytes(pixels)
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


# ----------------------------------------------------------------------------- Sakura SVSlide


def _grey_jpeg(pixels: np.ndarray) -> bytes:
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels)).copy(interpretation="b-w")
    return bytes(image.jpegsave_buffer(Q=95, keep="none"))


def write_svslide(path: Path, base: np.ndarray, tile: int = 256, n_levels: int = 2) -> Path:
    """A Sakura SVSlide: a SQLite database whose unique data table (named in
    DataManagerSQLiteConfigXPO) holds the magic bytes, a header (tile size, width, height,
    focal planes) and tiles ``T;x|y;downsample;colour;plane`` as one grey JPEG per colour,
    plus the slide and scan tables (resolution, magnification, label, overview, thumbnail)."""
    import sqlite3

    h, w = base.shape[:2]
    table = "SVSlideDataTable_0001"
    header = np.array([tile, w, h, 0, 1], dtype="<u4").tobytes()
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE DataManagerSQLiteConfigXPO (OID INTEGER, TableName TEXT)")
        db.execute("INSERT INTO DataManagerSQLiteConfigXPO VALUES (1, ?)", (table,))
        db.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, data BLOB)")
        rows: list[tuple[str, object]] = [
            ("++MagicBytes", "SVGigaPixelImage"),
            ("++VersionBytes", "1.0.0"),
            ("Header", header),
        ]
        level = base
        for n in range(n_levels):
            ds = 1 << n
            lh, lw = level.shape[:2]
            padded = np.pad(level, ((0, -lh % tile), (0, -lw % tile), (0, 0)), "edge")
            for y in range(0, lh, tile):
                for x in range(0, lw, tile):
                    for colour in range(3):
                        tile_id = f"T;{x * ds}|{y * ds};{ds};{colour};0"
                        rows.append(
                            (tile_id, _grey_jpeg(padded[y : y + tile, x : x + tile, colour]))
                        )
            level = np.ascontiguousarray(level[::2, ::2])
        db.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)
        db.execute(
            "CREATE TABLE SVSlideDataXPO (OID INTEGER, SlideId TEXT, Date TEXT, Description TEXT,"
            " Creator TEXT, DiagnosisCode TEXT, Keywords TEXT, m_labelScan INTEGER,"
            " m_overviewScan INTEGER)"
        )
        db.execute(
            "INSERT INTO SVSlideDataXPO VALUES (1, 'SYNTHETIC-1', '2021-03-04 13:14:15',"
            " 'synthetic slide', 'tests', '', '', 10, 11)"
        )
        db.execute(
            "CREATE TABLE SVHRScanDataXPO (OID INTEGER, ParentSlide INTEGER, ScanId TEXT,"
            " Date TEXT, Name TEXT, Description TEXT, ResolutionMmPerPix REAL,"
            " NominalLensMagnification REAL, FocussingMethod TEXT, ThumbnailImage BLOB)"
        )
        thumb = _jpeg_bytes(np.ascontiguousarray(base[::8, ::8]))
        db.execute(
            "INSERT INTO SVHRScanDataXPO VALUES (1, 1, 'SCAN-1', '2021-03-04 13:14:15', 'scan',"
            " '', 0.00025, 40, 'auto', ?)",
            (thumb,),
        )
        db.execute("CREATE TABLE SVScannedImageDataXPO (OID INTEGER, Image BLOB)")
        label = _jpeg_bytes(np.ascontiguousarray(base[: h // 2, : w // 3]))
        overview = _jpeg_bytes(np.ascontiguousarray(base[::4, ::2]))
        db.executemany(
            "INSERT INTO SVScannedImageDataXPO VALUES (?, ?)", [(10, label), (11, overview)]
        )
        db.commit()
    finally:
        db.close()
    return path


def _ngr(path: Path, pixels: np.ndarray, column: int) -> None:
    """A Hamamatsu NGR file: "GN", 2 bytes, width, height, column width (int32), 8 bytes, the
    data offset; then columns of ``column`` pixels, top to bottom, RGB 12-bit in uint16 LE."""
    h, w = pixels.shape[:2]
    twelve = (pixels.astype("<u2") << 4) | (pixels.astype("<u2") >> 4)  # 8 bits -> 12
    header = b"GN\x00\x00" + np.array([w, h, column], "<i4").tobytes() + bytes(8)
    header += np.array([len(header) + 4], "<i4").tobytes()
    columns = [
        np.ascontiguousarray(twelve[:, x : x + column]).tobytes() for x in range(0, w, column)
    ]
    path.write_bytes(header + b"".join(columns))


def write_vmu(folder: Path, base: np.ndarray, name: str = "slide", column: int = 64) -> Path:
    """A Hamamatsu VMU: ``<name>.vmu`` naming an uncompressed NGR image and its NGR map (1:4);
    width a multiple of ``column`` (and of 4 x ``column`` for the map)."""
    h, w = base.shape[:2]
    folder.mkdir(parents=True, exist_ok=True)
    _ngr(folder / f"{name}.ngr", base, column)
    _ngr(folder / f"{name}_map.ngr", np.ascontiguousarray(base[::4, ::4]), column // 4)
    key_file = folder / f"{name}.vmu"
    key_file.write_text(
        "[Uncompressed Virtual Microscope Specimen]\r\n"
        f"ImageFile={name}.ngr\r\nMapFile={name}_map.ngr\r\n"
        "BitsPerPixel=36\r\nPixelOrder=RGB\r\n"
        f"PhysicalWidth={w * NM_PER_PIXEL}\r\nPhysicalHeight={h * NM_PER_PIXEL}\r\n"
        "SourceLens=20\r\n"
    )
    return key_file
