"""DICOM whole-slide microscopy: one series (an instance per level, plus label / overview /
thumbnail instances) in one folder is one image. Detection by the DICM preamble and the SOP
class; pixels through OpenSlide's DICOM support, which finds the series' other instances in
the folder of the one it is given."""

from __future__ import annotations

from pathlib import Path

from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_DICOM, Format, Source
from cytotile.formats.common import decoding
from cytotile.formats.dicom import header
from cytotile.formats.openslide.slide import SlideSource, open_slide, slide_metadata


class DicomWsiFormat(Format):
    id = "DICOM"
    name = "DICOM whole-slide microscopy"
    order = ORDER_DICOM
    remarks = (
        "VL Whole Slide Microscopy series (one instance per level, label and overview); "
        "other DICOM (CT, MR, ...) is refused."
    )
    multi_file = True

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        """True for a WSI instance; other DICOM ends detection with a reason naming it."""
        if not header.is_dicom(head):
            return False
        inst = header.instance(path)
        if not inst.is_wsi:
            raise FormatError(header.refusal(inst))
        return True

    @classmethod
    def open(cls, path: Path) -> Source:
        inst = header.instance(path)
        if not inst.is_wsi:
            raise FormatError(header.refusal(inst))
        fields = header.metadata_fields(path)
        slide = open_slide(path, ("dicom",), "a DICOM whole-slide series")
        try:
            with decoding("DICOM attributes"):
                metadata = slide_metadata(cls.id, slide, **fields)
                level0 = header.level0(header.series_instances(path))
        except BaseException:
            slide.close()
            raise
        source = SlideSource(metadata, slide)
        source.dicom_level0 = level0.path  # its frames may be re-tiled (same size checked)
        return source
