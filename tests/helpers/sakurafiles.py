"""A small Sakura SVSlide for tests, as OpenSlide's driver reads it (src/openslide-vendor-sakura.c):
a SQLite database of per-colour grey JPEG tiles with its slide and scan tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvips

from tests.helpers.mrxsfiles import jpeg_bytes


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
        thumb = jpeg_bytes(np.ascontiguousarray(base[::8, ::8]))
        db.execute(
            "INSERT INTO SVHRScanDataXPO VALUES (1, 1, 'SCAN-1', '2021-03-04 13:14:15', 'scan',"
            " '', 0.00025, 40, 'auto', ?)",
            (thumb,),
        )
        db.execute("CREATE TABLE SVScannedImageDataXPO (OID INTEGER, Image BLOB)")
        label = jpeg_bytes(np.ascontiguousarray(base[: h // 2, : w // 3]))
        overview = jpeg_bytes(np.ascontiguousarray(base[::4, ::2]))
        db.executemany(
            "INSERT INTO SVScannedImageDataXPO VALUES (?, ?)", [(10, label), (11, overview)]
        )
        db.commit()
    finally:
        db.close()
    return path
