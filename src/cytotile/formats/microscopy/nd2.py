"""Nikon ND2: detected and refused with the reason. Its reader (nd2 0.12) brings dask,
ome-types, pydantic, xsdata (23 MB unzipped, measured) to an import function whose packages
already take about 300 MB installed (imagecodecs 78, jpeglib 75, numpy 68): over the import
Lambda's 250 MB unzipped."""

from __future__ import annotations

from pathlib import Path

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_MICROSCOPY, Format, Source

#: chunk magic of ND2 files (NIS-Elements 3+) and the name of their first chunk
MAGIC = b"\xda\xce\xbe\x0a"
SIGNATURE = b"ND2 FILE SIGNATURE CHUNK NAME01!"
REASON = (
    "Nikon ND2 is not supported: its reader (nd2, with dask and ome-types) does not fit in the "
    "import function; convert it to OME-TIFF (e.g. with bfconvert) and upload that"
)


class Nd2Format(Format):
    id = "ND2"
    name = "Nikon ND2"
    order = ORDER_MICROSCOPY + 50
    importable = False
    remarks = "Detected only: " + REASON.split(": ", 1)[1]

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return head.startswith(MAGIC) and SIGNATURE in head[:64]

    @classmethod
    def open(cls, path: Path) -> Source:
        raise FormatError(REASON)
