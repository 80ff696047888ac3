"""DICOM attributes read with pydicom (headers only, never pixel data): what an instance is, the
instances of its series in its folder, and PIMS metadata fields from them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats.common import iso_datetime, short_reason

WSI_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"  # VL Whole Slide Microscopy Image Storage
PREAMBLE = 128
MAX_SIBLINGS = 4096  # entries of the folder looked at for the other instances of a series
DATETIME_FORMATS = ("%Y%m%d%H%M%S.%f", "%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d")


def is_dicom(head: bytes) -> bool:
    return head[PREAMBLE : PREAMBLE + 4] == b"DICM"


@dataclass(frozen=True)
class Instance:
    path: Path
    sop_class: str
    sop_class_name: str
    modality: str
    series: str
    flavor: str  # ImageType's third value: VOLUME, LABEL, OVERVIEW, THUMBNAIL
    columns: int  # TotalPixelMatrixColumns (of the whole level), else Columns

    @property
    def is_wsi(self) -> bool:
        return self.sop_class == WSI_SOP_CLASS


def read(path: Path, tags: list[str] | None = None) -> Any:
    """The dataset of ``path`` without pixel data; ``FormatError`` when it is not DICOM."""
    import pydicom

    try:
        return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=tags)
    except Exception as exc:  # pydicom raises many kinds on malformed input
        raise FormatError(f"malformed DICOM: {short_reason(exc)}") from exc


def instance(path: Path) -> Instance:
    tags = ["SOPClassUID", "Modality", "SeriesInstanceUID", "ImageType"]
    ds = read(path, [*tags, "TotalPixelMatrixColumns", "Columns"])
    sop = str(ds.get("SOPClassUID", "") or "")
    if not sop:
        meta = getattr(ds, "file_meta", None)
        sop = str(getattr(meta, "MediaStorageSOPClassUID", "") or "")
    name = getattr(ds.get("SOPClassUID"), "name", "") or sop or "unknown SOP class"
    image_type = list(ds.get("ImageType") or [])
    columns = ds.get("TotalPixelMatrixColumns") or ds.get("Columns") or 0
    if sop == WSI_SOP_CLASS and not (ds.get("SOPClassUID") and ds.get("SeriesInstanceUID")):
        raise FormatError(
            "malformed DICOM: a whole-slide instance whose data set has no SOPClassUID or "
            "SeriesInstanceUID (damaged or truncated)"
        )
    return Instance(
        path=path,
        sop_class=sop,
        sop_class_name=str(name),
        modality=str(ds.get("Modality", "") or ""),
        series=str(ds.get("SeriesInstanceUID", "") or ""),
        flavor=str(image_type[2]) if len(image_type) > 2 else "",
        columns=int(columns),
    )


def refusal(inst: Instance) -> str:
    """Why a DICOM instance that is not whole-slide microscopy is refused."""
    modality = f"modality {inst.modality}, " if inst.modality else ""
    return (
        f"DICOM {inst.sop_class_name} ({modality}SOP class {inst.sop_class or 'missing'}) "
        "is not a whole-slide image: only VL Whole Slide Microscopy series are imported"
    )


def series_instances(path: Path) -> list[Instance]:
    """The WSI instances of the series of ``path`` in its folder (``path``'s first)."""
    first = instance(path)
    found = [first]
    with os.scandir(path.parent) as entries:
        for n, entry in enumerate(entries):
            if n >= MAX_SIBLINGS:
                break
            other = Path(entry.path)
            if other == path or not entry.is_file(follow_symlinks=True):
                continue
            with open(other, "rb") as fh:
                if not is_dicom(fh.read(PREAMBLE + 4)):
                    continue
            try:
                inst = instance(other)
            except FormatError:
                continue
            if inst.is_wsi and inst.series == first.series:
                found.append(inst)
    return found


def level0(instances: list[Instance]) -> Instance:
    """The full-resolution instance: the widest VOLUME one (else the widest)."""
    volumes = [i for i in instances if i.flavor == "VOLUME"] or instances
    return max(volumes, key=lambda i: i.columns)


def _first(ds: Any, *names: str) -> Any:
    """The first item of nested sequences, then an attribute: ``_first(ds, "Seq", "Attr")``."""
    node = ds
    for name in names[:-1]:
        seq = node.get(name) if node is not None else None
        node = seq[0] if seq else None
    return node.get(names[-1]) if node is not None else None


def acquisition(ds: Any) -> str | None:
    for value in (
        ds.get("AcquisitionDateTime"),
        f"{ds.get('AcquisitionDate') or ''}{ds.get('AcquisitionTime') or ''}",
        f"{ds.get('ContentDate') or ''}{ds.get('ContentTime') or ''}",
    ):
        text = str(value or "").strip()
        for sign in ("+", "-"):  # a UTC offset: kept out of the naive ISO date
            text = text.split(sign)[0]
        if text and (iso := iso_datetime(text, DATETIME_FORMATS)):
            return iso
    return None


def metadata_fields(path: Path) -> dict[str, Any]:
    """PIMS fields from the attributes of the level-0 instance of ``path``'s series."""
    ds = read(level0(series_instances(path)).path)
    spacing = _first(ds, "SharedFunctionalGroupsSequence", "PixelMeasuresSequence", "PixelSpacing")
    fields: dict[str, Any] = {}
    if spacing is not None and len(spacing) == 2 and float(spacing[0]) > 0 < float(spacing[1]):
        fields["physical_size_y"] = float(spacing[0]) * 1000  # rows, mm -> um
        fields["physical_size_x"] = float(spacing[1]) * 1000  # columns
    power = _first(ds, "OpticalPathSequence", "ObjectiveLensPower")
    if power is not None and float(power) > 0:
        fields["objective_nominal_magnification"] = float(power)
    model = " ".join(str(ds.get(k) or "") for k in ("Manufacturer", "ManufacturerModelName"))
    fields["microscope_model"] = model.strip() or None
    fields["acquired_at"] = acquisition(ds)
    fields["description"] = str(ds.get("SeriesDescription") or "") or None
    return fields
