"""A DICOM whole-slide instance's JPEG frames as a level the DCT re-tiler copies (issue 8).

A VOLUME instance organised TILED_FULL, in the JPEG Baseline transfer syntax, holds its level as
frames of one size in row-major order, each a complete JPEG stream in its own fragment of the
encapsulated pixel data: the same shape as a JPEG-tiled TIFF page whose tiles are complete
streams. Their byte ranges are read from the fragments' item headers (no pixel decoded); any
other layout (several fragments a frame, TILED_SPARSE, focal planes, optical paths, another
transfer syntax) raises :class:`NotRetilable` and takes the re-encode path.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from cytotile.importer import jpegmarkers as jm
from cytotile.importer.retile import JpegLevel, NotRetilable, check_frame
from cytotile.pyramid import ceil_div

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
PIXEL_DATA = b"\xe0\x7f\x10\x00"  # (7FE0,0010), little-endian
ITEM, SEQUENCE_END = 0xE000FFFE, 0xE0DDFFFE  # (FFFE,E000), (FFFE,E0DD) as little-endian uint32
#: libjpeg's own rule for 3 components without a JFIF marker: an Adobe marker's transform, else
#: component ids 'R', 'G', 'B' mean RGB-coded; anything else is YCbCr (as OpenSlide decodes it)
RGB_IDS = (82, 71, 66)


def fragments(path: Path, offset: int, limit: int) -> list[tuple[int, int]]:
    """(file offset, length) of each fragment of encapsulated pixel data whose value starts at
    ``offset`` (the Basic Offset Table item first, skipped), up to the sequence delimiter."""
    found: list[tuple[int, int]] = []
    with path.open("rb") as f:
        f.seek(offset)
        first = True
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise NotRetilable("encapsulated pixel data ends without its delimiter")
            tag, length = struct.unpack("<II", head)
            if tag == SEQUENCE_END:
                return found
            if tag != ITEM or length == 0xFFFFFFFF:
                raise NotRetilable("malformed encapsulated pixel data")
            if not first:
                found.append((f.tell(), length))
                if len(found) > limit:
                    raise NotRetilable("more fragments than frames")
            first = False
            f.seek(length, os.SEEK_CUR)


def _photometric(stream: bytes, n_samples: int) -> int:
    if n_samples == 1:
        return 1
    frame = jm.frame(stream)
    ids = tuple(c[0] for c in frame.components) if frame else ()
    adobe_rgb = any(
        marker == 0xEE and stream[start + 4 : start + 9] == b"Adobe" and stream[end - 1] == 0
        for marker, start, end in jm.segments(stream)
    )
    return 2 if adobe_rgb or ids == RGB_IDS else 6


def probe_dicom(path: Path) -> JpegLevel:
    """The instance's frames as a :class:`JpegLevel`, or :class:`NotRetilable` saying why not."""
    import pydicom

    try:
        with path.open("rb") as f:  # the header; f stops at the pixel data element
            ds: Any = pydicom.dcmread(f, stop_before_pixels=True)
            element = f.read(12)  # (7FE0,0010), "OB", reserved, length (explicit VR LE)
            value_offset = f.tell()
    except Exception as exc:
        raise NotRetilable(f"unreadable DICOM: {exc}") from exc
    syntax = str(getattr(ds.file_meta, "TransferSyntaxUID", ""))
    if syntax != JPEG_BASELINE:
        raise NotRetilable(f"transfer syntax {syntax} is not JPEG Baseline")
    if str(ds.get("DimensionOrganizationType", "TILED_FULL")) != "TILED_FULL":
        raise NotRetilable("frames not organised TILED_FULL")
    if (
        int(ds.get("TotalPixelMatrixFocalPlanes", 1)) != 1
        or int(ds.get("NumberOfOpticalPaths", 1)) != 1
    ):
        raise NotRetilable("several focal planes or optical paths")
    n_samples = int(ds.get("SamplesPerPixel", 0))
    if int(ds.get("BitsAllocated", 0)) != 8 or n_samples not in (1, 3):
        raise NotRetilable("not 8-bit grey or RGB")
    width = int(ds.get("TotalPixelMatrixColumns") or ds.Columns)
    height = int(ds.get("TotalPixelMatrixRows") or ds.Rows)
    tile = (int(ds.Columns), int(ds.Rows))
    n_frames = int(ds.get("NumberOfFrames", 1))
    if n_frames != ceil_div(width, tile[0]) * ceil_div(height, tile[1]):
        raise NotRetilable(f"{n_frames} frames do not tile {width}x{height} by {tile}")
    if element[:4] != PIXEL_DATA or element[8:] != b"\xff\xff\xff\xff":
        raise NotRetilable("pixel data not encapsulated")
    found = fragments(path, value_offset, n_frames)
    if len(found) != n_frames:
        raise NotRetilable(f"{len(found)} fragments for {n_frames} frames")
    with path.open("rb") as f:
        f.seek(found[0][0])
        first = f.read(found[0][1])
    try:
        frame, quant = jm.frame(first), jm.quant_tables(first)
    except ValueError as exc:
        raise NotRetilable(f"malformed JPEG frame: {exc}") from exc
    photometric = _photometric(first, n_samples)
    check_frame(frame, tile, photometric)
    offsets = tuple(o for o, _ in found)
    counts = tuple(n for _, n in found)
    assert frame is not None
    return JpegLevel(path, width, height, *tile, offsets, counts, None, photometric, frame, quant)
