"""Small Hamamatsu slides for tests, as OpenSlide's driver reads them: VMS (a key file naming
JPEGs with restart markers, a map and a macro image) and VMU (uncompressed NGR files)."""

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
