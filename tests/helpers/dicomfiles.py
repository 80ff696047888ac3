"""Small DICOM files for tests, written with pydicom: a plain (non whole-slide) instance of any
SOP class, and damaged copies of real instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def write_plain(path: Path, sop_class: str = CT_IMAGE_STORAGE, modality: str = "CT") -> Path:
    """A single-frame 16-bit instance of ``sop_class`` (CT by default), with its preamble."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = modality
    ds.PatientName = "Test^Synthetic"
    ds.Rows, ds.Columns = 32, 48
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.arange(32 * 48, dtype=np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_garbled(path: Path, source: Path, keep: int = 200) -> Path:
    """The first ``keep`` bytes of a real instance (preamble and DICM kept), then garbage."""
    data = source.read_bytes()[:keep]
    path.write_bytes(data + bytes(range(256)) * 4)
    return path
