"""Legacy Nikon ND2 (NIS-Elements before 3.0): recognised, named, refused.

Such a file is built of JPEG 2000 boxes: it opens with the JP2 signature box (and ``ftyp``,
``jp2h``), then holds ND2's own boxes (XML metadata, one JPEG 2000 codestream per channel of
each frame), and ends with a box map: a big-endian entry count and 16-byte entries (box type,
ND2 chunk name, offset), then a 40-byte trailer, the signature ``LABORATORY IMAGING ND BOX MAP
00`` and the map's distance from the end of the file (little-endian u64). The JPEG 2000 format
would take it for a plain JP2 and import one channel of the first frame; detection therefore
looks at the trailer, before the JPEG 2000 format. cytotile reads modern ND2 only (the chunk
map of NIS-Elements 3+, :mod:`cytotile.formats.microscopy.nd2`), so the upload ends in
ERROR_FORMAT with legacy ND2 named.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_MICROSCOPY, Format, Source
from cytotile.formats.pillow.jp2head import JP2_SIGNATURE

MAP_SIGNATURE = b"LABORATORY IMAGING ND BOX MAP 00"
TRAILER = struct.Struct("<32sQ")  # signature, distance of the box map from the end
MAP_HEAD = 4  # the entry count before the entries


def is_legacy_nd2(path: Path, head: bytes) -> bool:
    """A JP2 signature box first and the ND box map's trailer last, pointing inside the file."""
    if not head.startswith(JP2_SIGNATURE):
        return False
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size < len(JP2_SIGNATURE) + TRAILER.size + MAP_HEAD:
                return False
            fh.seek(size - TRAILER.size)
            signature, distance = TRAILER.unpack(fh.read(TRAILER.size))
    except OSError:
        return False
    return bool(signature == MAP_SIGNATURE and TRAILER.size + MAP_HEAD <= distance <= size)


class LegacyNd2Format(Format):
    id = "ND2LEGACY"
    name = "Nikon ND2 (legacy, JPEG 2000-based)"
    order = ORDER_MICROSCOPY + 55  # after modern ND2, long before JPEG 2000
    importable = False
    remarks = (
        "Recognised and refused: ND2 files of NIS-Elements before 3.0 (JPEG 2000 frames); "
        "modern ND2 is imported."
    )

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return is_legacy_nd2(path, head)

    @classmethod
    def open(cls, path: Path) -> Source:
        raise FormatError(
            "a legacy Nikon ND2 file (NIS-Elements before 3.0, frames stored as JPEG 2000): "
            "legacy ND2 is not supported (save it again as ND2 from NIS-Elements 3 or later, "
            "or convert it to OME-TIFF, e.g. with bfconvert, to import it)"
        )
