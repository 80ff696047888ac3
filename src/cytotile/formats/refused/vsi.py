"""Olympus/Evident cellSens VSI: recognised, named, refused.

A ``.vsi`` file is a little TIFF (an overview) whose own tag volume follows the TIFF header at
byte 8 (``headerSize`` 24, version 21321 = "IS"); the pixels are in ``.ets`` files ("SIS"
header then "ETS") in a folder beside it. No reader of the import step opens them (OpenSlide
does not, Bio-Formats is not here), so the upload ends in ERROR_FORMAT with VSI named.
Detected before the TIFF formats, which would otherwise import the overview alone.
"""

from __future__ import annotations

from pathlib import Path

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_VENDOR, Format, Source

VSI_VOLUME = b"\x18\x00IS"  # little-endian headerSize=24, version=21321
ETS_MAGIC = b"SIS\x00"


def what(head: bytes) -> str | None:
    if head[:4] == b"II*\x00" and head[8:12] == VSI_VOLUME:
        return "an Olympus cellSens VSI file"
    if head[:4] == ETS_MAGIC and b"ETS\x00" in head[:4096]:
        return "an Olympus cellSens ETS file (the pixels of a VSI slide)"
    return None


class VsiFormat(Format):
    id = "VSI"
    name = "Olympus cellSens VSI"
    order = ORDER_VENDOR + 95
    importable = False
    multi_file = True
    remarks = "Recognised and refused: no reader of VSI/ETS files in the import step."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return what(head) is not None

    @classmethod
    def open(cls, path: Path) -> Source:
        with open(path, "rb") as fh:
            kind = what(fh.read(4096)) or "an Olympus cellSens VSI file"
        raise FormatError(
            f"{kind}: VSI is not supported: no reader of cellSens VSI/ETS files is available "
            "here (convert the slide to OME-TIFF, e.g. with bfconvert, to import it)"
        )
