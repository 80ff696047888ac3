"""Small whole-slide files in vendor TIFF formats, written with tifffile following the metadata
each vendor documents and OpenSlide reads (its vendor drivers are the reference): Aperio SVS
with JPEG 2000 tiles, Leica SCN, Philips TIFF, Ventana BIF, zstd-tiled TIFF. Levels are JPEG
tiles in YCbCr as scanners write them, unless said otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.helpers import synth

TILE = 256
JPEG = {"compression": "jpeg", "compressionargs": {"level": 90}}


def ycbcr(rgb: np.ndarray) -> np.ndarray:
    """JFIF full-range YCbCr of 8-bit RGB (what JPEG and Aperio 33003 codestreams hold)."""
    r, g, b = (rgb[:, :, i].astype(np.float64) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return np.clip(np.rint(np.stack([y, cb, cr], axis=2)), 0, 255).astype(np.uint8)


def halve(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    image = synth.pyvips.Image.new_from_array(np.ascontiguousarray(pixels))
    return synth.to_numpy(image.resize(0.5))[: max(h // 2, 1), : max(w // 2, 1)]


def pyramid(base: np.ndarray, n_levels: int) -> list[np.ndarray]:
    levels = [base]
    while len(levels) < n_levels:
        levels.append(halve(levels[-1]))
    return levels


def write_jpeg_level(tw: Any, pixels: np.ndarray, **kw: Any) -> None:
    """A tiled YCbCr 4:2:0 JPEG page of RGB ``pixels``."""
    tw.write(
        ycbcr(pixels),
        tile=(TILE, TILE),
        photometric="ycbcr",
        subsampling=(2, 2),
        metadata=None,
        **JPEG,
        **kw,
    )


def tissue(width: int, height: int, seed: int = 1) -> np.ndarray:
    return synth.to_numpy(synth.tissue(width, height, seed))


# ----------------------------------------------------------------------------- Aperio JPEG 2000


def write_svs_jp2k(path: Path, base: np.ndarray, compression: int = 33003) -> Path:
    """An Aperio SVS whose level 0 is JPEG 2000 tiles: 33003 (YCbCr codestreams) or 33005
    (RGB), lossless so the pixels are the input's; thumbnail, label and macro as usual."""
    import tifffile

    h, w = base.shape[:2]
    kw: dict[str, Any] = {"photometric": "rgb", "metadata": None}
    aperio = synth.APERIO
    with tifffile.TiffWriter(path) as tw:
        desc = f"{aperio}{w}x{h} [0,0 {w}x{h}] (256x256) J2K/KDU Q=70|AppMag = 20|MPP = 0.5"
        data = ycbcr(base) if compression == 33003 else base
        tw.write(data, tile=(TILE, TILE), description=desc, compression=compression, **kw)
        thumb = np.ascontiguousarray(base[::4, ::4])
        tw.write(thumb, description=f"{aperio}{w}x{h} -> {thumb.shape[1]}x{thumb.shape[0]}", **kw)
        label = np.ascontiguousarray(base[: h // 4, : w // 5])
        tw.write(label, description=f"{aperio}label", subfiletype=1, **kw)
        macro = np.ascontiguousarray(base[: h // 8, :])
        tw.write(macro, description=f"{aperio}macro", subfiletype=9, **kw)
    return path


# ----------------------------------------------------------------------------- generic, zstd


def write_zstd_tiff(path: Path, base: np.ndarray, n_levels: int = 3) -> Path:
    """A tiled pyramidal TIFF of zstd tiles, no vendor signature (OpenSlide's generic TIFF)."""
    import tifffile

    with tifffile.TiffWriter(path) as tw:
        for n, level in enumerate(pyramid(base, n_levels)):
            tw.write(
                level,
                tile=(TILE, TILE),
                photometric="rgb",
                compression="zstd",
                subfiletype=1 if n else 0,
                resolution=(40000.0, 40000.0),
                resolutionunit="CENTIMETER",
                metadata=None,
            )
    return path


# ----------------------------------------------------------------------------- Philips TIFF


def _attr(name: str, value: str, kind: str = "IString") -> str:
    return f'<Attribute Name="{name}" PMSVR="{kind}">{value}</Attribute>'


def philips_xml(spacings_mm: list[float], when: str, objective: int) -> str:
    """Philips' ``DPUfsImport`` DataObject: one WSI scanned image with a pixel data
    representation (pixel spacing, mm) per level."""
    levels = "".join(
        '<DataObject ObjectType="PixelDataRepresentation">'
        + _attr("DICOM_PIXEL_SPACING", f'"{s:.6f}" "{s:.6f}"', "IDoubleArray")
        + _attr("PIIM_PIXEL_DATA_REPRESENTATION_NUMBER", str(n), "IUInt16")
        + "</DataObject>"
        for n, s in enumerate(spacings_mm)
    )
    derivation = f"tiff-useBigTIFF=1-useRgb=0-levels={objective},{objective // 2}-processing=0-q80"
    wsi = (
        '<DataObject ObjectType="DPScannedImage">'
        + _attr("DICOM_DERIVATION_DESCRIPTION", derivation)
        + _attr(
            "DICOM_PIXEL_SPACING", f'"{spacings_mm[0]:.6f}" "{spacings_mm[0]:.6f}"', "IDoubleArray"
        )
        + _attr("PIM_DP_IMAGE_TYPE", "WSI")
        + '<Attribute Name="PIIM_PIXEL_DATA_REPRESENTATION_SEQUENCE" PMSVR="IDataObjectArray">'
        + f"<Array>{levels}</Array></Attribute></DataObject>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<DataObject ObjectType="DPUfsImport">'
        + _attr("DICOM_ACQUISITION_DATETIME", when)
        + _attr("DICOM_MANUFACTURER", "PHILIPS")
        + _attr("DICOM_SOFTWARE_VERSIONS", '"1.6.5505" "20111208_R44"', "IStringArray")
        + '<Attribute Name="PIM_DP_SCANNED_IMAGES" PMSVR="IDataObjectArray">'
        + f"<Array>{wsi}</Array></Attribute></DataObject>"
    )


def write_philips(path: Path, base: np.ndarray, n_levels: int = 3) -> Path:
    """A Philips TIFF: pyramid pages of JPEG tiles (later ones reduced-resolution), the XML as
    the first ImageDescription, Software "Philips DP v1.0", a label and a macro page."""
    import tifffile

    levels = pyramid(base, n_levels)
    xml = philips_xml([0.00025 * 2**n for n in range(n_levels)], "20210304131415.000000", 40)
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        for n, level in enumerate(levels):
            extra: dict[str, Any] = {"description": xml, "software": "Philips DP v1.0"}
            write_jpeg_level(tw, level, subfiletype=1 if n else 0, **(extra if n == 0 else {}))
        h, w = base.shape[:2]
        for name, part in (("Label", base[: h // 3, : w // 4]), ("Macro", base[: h // 4, :])):
            tw.write(
                np.ascontiguousarray(part),
                description=name,
                photometric="rgb",
                metadata=None,
                subfiletype=1,
            )
    return path
