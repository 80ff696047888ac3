"""OME-TIFF: planar or pyramidal (SubIFDs), 8/16/32-bit, any DimensionOrder, single file or
several files named by the OME-XML's TiffData UUIDs (found beside the named file). Several
``Image`` elements: each is its own image (a collection), but a slide's label/macro/thumbnail
and a pyramid stored as images (:mod:`cytotile.formats.microscopy.omeimages`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_MICROSCOPY, Format, Source
from cytotile.formats.microscopy import omexml
from cytotile.formats.microscopy.omeassociated import with_associated
from cytotile.formats.microscopy.omeimages import Grouping, OmeImage, group, summaries
from cytotile.formats.microscopy.planes import (
    PlaneSource,
    channel_list,
    served_type,
    stack_metadata,
)
from cytotile.formats.microscopy.tiffseries import SeriesPlanes
from cytotile.formats.tiff import structure


def ome_xml(path: Path) -> str | None:
    """The OME-XML of page 0's ImageDescription, if it is one."""
    info = structure.inspect(path)
    text = info.pages[0].description.strip()
    if "<OME" in text[:4096] and "openmicroscopy.org/Schemas/OME" in text[:4096]:
        return text
    return None


def open_series(
    format_id: str, path: Path, raw: dict[str, Any], index: int = 0, **meta: Any
) -> PlaneSource:
    """The source of series ``index``: sizes from tifffile's mapping, ``meta`` completes the
    metadata."""
    info = structure.inspect(path)
    safety.check_tiff(info, list(info.pages), max_pixels=None)
    planes = SeriesPlanes(path, index)
    try:
        lay = planes.layout
        safety.check_dimensions(lay.width, lay.height, max_pixels=None, what=format_id)
        pixel_type = served_type(lay.sample_type, raw)
        raw["tiff.Levels"] = len(planes.series.levels)  # the original's own pyramid (SubIFDs)
        if lay.n_samples == 3 and lay.sizes["C"] > 1:
            raise FormatError("RGB samples in several channels are not supported")
        metadata = stack_metadata(
            format_id,
            lay.width,
            lay.height,
            n_concrete_channels=lay.sizes["C"],
            n_samples=lay.n_samples,
            depth=lay.sizes["Z"],
            duration=lay.sizes["T"],
            pixel_type=pixel_type,
            sample_type=lay.sample_type,
            raw_metadata=raw,
            **meta,
        )
    except Exception:
        planes.close()
        raise
    return PlaneSource(metadata, planes.read, planes.close)


class OmeTiffFormat(Format):
    id = "OMETIFF"
    name = "OME-TIFF"
    order = ORDER_MICROSCOPY + 10
    remarks = "Planar or pyramidal (SubIFDs), C/Z/T planes, 8/16/32-bit; multi-file beside it."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return structure.is_tiff(head) and ome_xml(path) is not None

    @classmethod
    def images(cls, path: Path) -> list[str]:
        xml = ome_xml(path)
        if xml is None:
            return []
        found, grouping = _grouping(path, xml)
        return [found[i].name for i in grouping.images] if len(grouping.images) > 1 else []

    @classmethod
    def open(cls, path: Path) -> Source:
        return cls.open_image(path, 0)

    @classmethod
    def open_image(cls, path: Path, index: int) -> Source:
        xml = ome_xml(path)
        if xml is None:
            raise FormatError("not an OME-TIFF: no OME-XML in the first page")
        found, grouping = _grouping(path, xml)
        if not 0 <= index < len(grouping.images):
            raise FormatError(f"the OME-TIFF holds {len(grouping.images)} images, not {index + 1}")
        element = grouping.images[index]
        ome = omexml.parse(xml, element)
        raw: dict[str, Any] = dict(structure.inspect(path).raw)  # page 0's TIFF tags, as PIMS
        raw.update(ome.raw)
        raw["OME.ImageName"] = ome.image_name
        if len(found) > 1:
            raw["OME.ImageIndex"] = element
            raw["OME.Images"] = [image.name for image in found]
        # PIMS names the unnamed channels of a 2- or 3-channel image R, G, B (by index)
        rgb_names = 2 <= ome.size_c <= 3
        channels = channel_list(
            ome.size_c if ome.channels and all(c.samples == 1 for c in ome.channels) else 0,
            [c.name or ("RGB"[i] if rgb_names else None) for i, c in enumerate(ome.channels)],
            [c.color for c in ome.channels],
            [c.emission for c in ome.channels],
            [c.excitation for c in ome.channels],
        )
        source = open_series(
            cls.id,
            path,
            raw,
            element,
            significant_bits=ome.significant_bits,
            physical_size_x=ome.physical_size_x,
            physical_size_y=ome.physical_size_y,
            physical_size_z=ome.physical_size_z,
            frame_rate=1.0 / ome.time_increment if ome.time_increment else None,
            acquired_at=ome.acquired_at,
            description=ome.description or ome.image_name,  # PIMS: the Image's Name if none
            objective_nominal_magnification=ome.objective_nominal,
            objective_calibrated_magnification=ome.objective_calibrated,
            microscope_model=ome.microscope,
        )
        meta = source.metadata
        if len(channels) == meta.n_channels:
            meta.channels = channels
        else:  # RGB interleaved in one OME channel, or no Channel elements
            meta.channels = channel_list(
                meta.n_channels, list("RGB") if meta.n_samples == 3 else [], [], []
            )
        if meta.significant_bits > 8 * 4 or meta.significant_bits < 1:
            meta.significant_bits = 16 if meta.pixel_type == "uint16" else 8
        return with_associated(source, path, grouping.associated)


def _grouping(path: Path, xml: str) -> tuple[list[OmeImage], Grouping]:
    """The file's images, sorted (one image when tifffile's series do not map one to one onto
    the ``Image`` elements: then only the first is known to be where tifffile puts it)."""
    import tifffile

    found = summaries(omexml.document(xml))
    with tifffile.TiffFile(path) as tif:
        n_series = len(tif.series)
    if len(found) <= 1 or n_series != len(found):
        return found, Grouping(images=[0])
    return found, group(found)
