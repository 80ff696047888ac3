"""Hamamatsu VMS / VMU: a key file (``[Virtual Microscope Specimen]``, or ``[Uncompressed
Virtual Microscope Specimen]``) naming the image files beside it (JPEGs with restart markers,
or NGR for VMU), a map and a macro image. Multi-file: the key file names the image."""

from __future__ import annotations

import re
from pathlib import Path

from cytotile.formats.base import ORDER_VENDOR
from cytotile.formats.openslide.slide import OpenSlideFormat

GROUP = re.compile(rb"^\s*\[(Uncompressed )?Virtual Microscope Specimen\]\s*$", re.MULTILINE)
BOM = b"\xef\xbb\xbf"
MAX_KEY_FILE = 64 * 1024  # OpenSlide's limit


class VmsFormat(OpenSlideFormat):
    id = "VMS"
    name = "Hamamatsu VMS/VMU"
    order = ORDER_VENDOR + 25
    remarks = "Hamamatsu key file (.vms, .vmu) and the JPEG / NGR files it names, with the macro."
    vendors = ("hamamatsu",)
    multi_file = True

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if path.stat().st_size > MAX_KEY_FILE or b"\x00" in head:
            return False
        text = head.removeprefix(BOM)
        first = next((line for line in text.splitlines() if line.strip()), b"")
        return GROUP.match(first) is not None
