"""3DHistech MRXS: ``<name>.mrxs`` beside a folder ``<name>/`` holding ``Slidedat.ini`` (the
slide's key file: ``[GENERAL]`` with a SLIDE_ID, ``[HIERARCHICAL]``), ``Index.dat`` and the
``Data*.dat`` files. The folder's key file is what identifies the format; multi-file."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cytotile.formats.base import ORDER_VENDOR, Source
from cytotile.formats.openslide.slide import (
    OpenSlideFormat,
    SlideSource,
    open_slide,
    slide_metadata,
)
from cytotile.formats.tiff import structure

SLIDEDAT = "Slidedat.ini"
GENERAL = re.compile(rb"^\s*\[GENERAL\]\s*$", re.MULTILINE)
HIERARCHICAL = re.compile(rb"^\s*\[HIERARCHICAL\]\s*$", re.MULTILINE)
SLIDE_ID = re.compile(rb"^\s*SLIDE_ID\s*=", re.MULTILINE)
MAX_SLIDEDAT = 1 << 20  # OpenSlide's limit


def slidedat(path: Path) -> Path:
    """The key file of the slide named by ``path`` (``<dir>/<stem>/Slidedat.ini``)."""
    return path.parent / path.stem / SLIDEDAT


def is_slidedat(path: Path) -> bool:
    try:
        if not path.is_file() or path.stat().st_size > MAX_SLIDEDAT:
            return False
        text = path.read_bytes()
    except OSError:
        return False
    return all(p.search(text) for p in (GENERAL, HIERARCHICAL, SLIDE_ID))


class MrxsSource(SlideSource):
    """A slide opened through a temporary folder of links (OpenSlide wants ``.mrxs``)."""

    def __init__(self, metadata: Any, slide: Any, links: Path | None) -> None:
        super().__init__(metadata, slide)
        self._links = links

    def close(self) -> None:
        super().close()
        if self._links is not None:
            shutil.rmtree(self._links, ignore_errors=True)


class MrxsFormat(OpenSlideFormat):
    id = "MRXS"
    name = "3DHistech MRXS"
    order = ORDER_VENDOR + 35
    remarks = "3DHistech Pannoramic slides: the .mrxs file and its data folder, label and macro."
    vendors = ("mirax",)
    multi_file = True

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return not structure.is_tiff(head) and is_slidedat(slidedat(path))

    @classmethod
    def open(cls, path: Path) -> Source:
        links = None
        named = path
        if path.suffix != ".mrxs":  # OpenSlide finds the folder from the .mrxs name
            links = Path(tempfile.mkdtemp(prefix="cytotile-mrxs-"))
            named = links / "slide.mrxs"
            named.symlink_to(path.resolve())
            (links / "slide").symlink_to(slidedat(path).parent.resolve())
        try:
            slide = open_slide(named, cls.vendors, cls.name)
            try:
                metadata = slide_metadata(cls.id, slide)
            except BaseException:
                slide.close()
                raise
        except BaseException:
            if links is not None:
                shutil.rmtree(links, ignore_errors=True)
            raise
        return MrxsSource(metadata, slide, links)
