"""Small Leica SCN and Ventana BIF files written with tifffile, with the XML each vendor
documents as OpenSlide's drivers read it (src/openslide-vendor-leica.c, -ventana.c)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.helpers.vendors import TILE, pyramid, write_jpeg_level

SCN_NS = "http://www.leica-microsystems.com/scn/2010/10/01"
NM_PER_PIXEL = 500  # 0.5 um at level 0 (20x)
SCN_MARGIN = 16  # pixels of the collection around the scanned area


def _scn_image(name: str, dims: list[tuple[int, int, int]], view: tuple[int, ...], obj: str) -> str:
    """One ``image`` of a collection: its pixel dimensions (w, h, ifd) and its view (nm)."""
    w0, h0 = dims[0][:2]
    dimensions = "".join(
        f'<dimension sizeX="{w}" sizeY="{h}" r="{r}" ifd="{ifd}" />'
        for r, (w, h, ifd) in enumerate(dims)
    )
    vx, vy, vw, vh = view
    objective = (
        f"<objectiveSettings><objective>{obj}</objective></objectiveSettings>" if obj else ""
    )
    return (
        f'<image name="{name}" uuid="urn:uuid:{name}">'
        "<creationDate>2021-03-04T13:14:15.00Z</creationDate>"
        '<device model="Leica SCN400;Leica SCN" version="1.5.1.10804 2012/05/10 13:29:07" />'
        f'<pixels sizeX="{w0}" sizeY="{h0}">{dimensions}</pixels>'
        f'<view sizeX="{vw}" sizeY="{vh}" offsetX="{vx}" offsetY="{vy}" spacingZ="0" />'
        f"<scanSettings>{objective}<illuminationSettings><numericalAperture>0.7"
        "</numericalAperture><illuminationSource>brightfield</illuminationSource>"
        "</illuminationSettings></scanSettings></image>"
    )


def write_scn(path: Path, base: np.ndarray, n_levels: int = 3) -> Path:
    """A Leica SCN: a collection holding a macro image of the whole collection (IFD 0, the
    XML as its ImageDescription) and the scanned area (JPEG-tiled pyramid, IFDs 1...) placed
    ``SCN_MARGIN`` pixels inside it."""
    import tifffile

    h, w = base.shape[:2]
    levels = pyramid(base, n_levels)
    cw, ch = (w + 2 * SCN_MARGIN) * NM_PER_PIXEL, (h + 2 * SCN_MARGIN) * NM_PER_PIXEL
    macro = np.ascontiguousarray(np.full(((h + 32) // 8, (w + 32) // 8, 3), 230, np.uint8))
    macro[2:-2, 2:-2] = levels[-1][: macro.shape[0] - 4, : macro.shape[1] - 4]
    main_dims = [(lv.shape[1], lv.shape[0], 1 + n) for n, lv in enumerate(levels)]
    offset = SCN_MARGIN * NM_PER_PIXEL
    xml = (
        f'<?xml version="1.0" encoding="utf-8"?><scn xmlns="{SCN_NS}">'
        f'<collection name="synthetic" uuid="urn:uuid:c" sizeX="{cw}" sizeY="{ch}">'
        "<barcode>U1lOVEhFVElDLTE=</barcode>"  # base64 of SYNTHETIC-1
        + _scn_image("macro", [(macro.shape[1], macro.shape[0], 0)], (0, 0, cw, ch), "")
        + _scn_image("main", main_dims, (offset, offset, w * NM_PER_PIXEL, h * NM_PER_PIXEL), "20")
        + "</collection></scn>"
    )
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        tw.write(macro, description=xml, tile=(TILE, TILE), photometric="rgb", metadata=None)
        for level in levels:
            write_jpeg_level(tw, level)
    return path


def _joint(direction: str, tile1: int, tile2: int) -> str:
    return (
        f'<TileJointInfo FlagJoined="1" Direction="{direction}" Tile1="{tile1}" '
        f'Tile2="{tile2}" OverlapX="0" OverlapY="0" Confidence="100" />'
    )


def bif_encode_info(cols: int, rows: int) -> str:
    """Level 0's EncodeInfo: one area of ``cols`` x ``rows`` tiles, no overlap. Tiles are numbered
    from 1 from the bottom row up, serpentine (even rows from the bottom left to right)."""

    def number(col: int, row_from_bottom: int) -> int:
        along = col if row_from_bottom % 2 == 0 else cols - 1 - col
        return row_from_bottom * cols + along + 1

    joints = [
        _joint("RIGHT", number(c, r), number(c + 1, r))
        for r in range(rows)
        for c in range(cols - 1)
    ]
    joints += [
        _joint("UP", number(c, r), number(c, r + 1)) for r in range(rows - 1) for c in range(cols)
    ]
    return (
        '<EncodeInfo Ver="2"><SlideInfo><AoiInfo XIMAGESIZE="1" YIMAGESIZE="1" NumRows="1" '
        'NumCols="1" Pos-X="0" Pos-Y="0" /></SlideInfo><AoiOrigin><AOI0 OriginX="0" OriginY="0" />'
        '</AoiOrigin><SlideStitchInfo><ImageInfo AOIScanned="1" AOIIndex="0" '
        f'Width="{TILE}" Height="{TILE}" NumRows="{rows}" NumCols="{cols}" Pos-X="0" Pos-Y="0">'
        + "".join(joints)
        + "</ImageInfo></SlideStitchInfo></EncodeInfo>"
    )


def write_bif(path: Path, base: np.ndarray, n_levels: int = 2) -> Path:
    """A Ventana BIF: IFD 0 the "Label Image" (macro) carrying the iScan XMP packet, IFD 1 the
    "Thumbnail", then ``level=N mag=M`` pyramid pages of JPEG tiles, level 0 with its
    EncodeInfo XMP. ``base`` must be a whole number of tiles (at least 2 x 2)."""
    import tifffile

    h, w = base.shape[:2]
    assert w % TILE == 0 and h % TILE == 0 and w >= 2 * TILE and h >= 2 * TILE
    iscan = (
        '<?xml version="1.0" encoding="utf-8"?><Metadata><iScan Magnification="40" '
        'ScanRes="0.25" UnitNumber="BI10N0000" BuildVersion="3.3.1.1" ScanMode="1" '
        'ShowLabel="1" /></Metadata>'
    )
    kw: dict[str, Any] = {"photometric": "rgb", "metadata": None}
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        macro = np.ascontiguousarray(base[::4, ::4])
        tw.write(
            macro, description="Label Image", extratags=[(700, 1, len(iscan), iscan.encode())], **kw
        )
        tw.write(np.ascontiguousarray(base[::8, ::8]), description="Thumbnail", **kw)
        for n, level in enumerate(pyramid(base, n_levels)):
            xmp = bif_encode_info(w // TILE, h // TILE).encode() if n == 0 else None
            extratags = [(700, 1, len(xmp), xmp)] if xmp else []
            write_jpeg_level(
                tw, level, description=f"level={n} mag={40 >> n} quality=90", extratags=extratags
            )
    return path
