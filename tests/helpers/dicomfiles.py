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


WSI = "1.2.840.10008.5.1.4.1.1.77.1.6"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


def _jpeg_frames(pixels: np.ndarray, tile: int) -> list[bytes]:
    """Baseline JPEG (YCbCr 4:2:0) frames of ``tile`` x ``tile``, row-major, edges padded."""
    h, w = pixels.shape[:2]
    padded = np.pad(pixels, ((0, -h % tile), (0, -w % tile), (0, 0)), "edge")
    return [
        _whole_frame(padded[y : y + tile, x : x + tile])
        for y in range(0, h, tile)
        for x in range(0, w, tile)
    ]


def _whole_frame(pixels: np.ndarray) -> bytes:
    import pyvips

    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels)).copy(interpretation="srgb")
    return bytes(image.jpegsave_buffer(Q=92, subsample_mode="on", keep="none"))


def write_wsi_instance(
    path: Path,
    pixels: np.ndarray,
    flavor: str,
    series: dict[str, str],
    *,
    tile: int = 256,
    spacing_mm: float = 0.0005,
) -> Path:
    """One instance of a VL Whole Slide Microscopy series: ``flavor`` VOLUME (a level, tiled
    TILED_FULL), LABEL, OVERVIEW or THUMBNAIL (one frame), JPEG baseline frames."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID, generate_uid

    h, w = pixels.shape[:2]
    whole = flavor != "VOLUME"
    frames = [_whole_frame(pixels)] if whole else _jpeg_frames(pixels, tile)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = WSI
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = UID(JPEG_BASELINE)
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = WSI, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = series["study"]
    ds.SeriesInstanceUID = series["series"]
    ds.FrameOfReferenceUID = series["frame"]
    ds.Modality = "SM"
    ds.Manufacturer, ds.ManufacturerModelName = "Synthetic", "pydicom writer"
    ds.AcquisitionDateTime = "20210304131415"
    ds.ImageType = ["ORIGINAL", "PRIMARY", flavor, "NONE"]
    ds.TotalPixelMatrixColumns, ds.TotalPixelMatrixRows = w, h
    ds.Columns, ds.Rows = (w, h) if whole else (tile, tile)
    ds.NumberOfFrames = len(frames)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.DimensionOrganizationType = "TILED_FULL"
    ds.TotalPixelMatrixFocalPlanes = 1
    ds.NumberOfOpticalPaths = 1
    path_item = Dataset()
    path_item.OpticalPathIdentifier = "1"
    path_item.ObjectiveLensPower = 20
    ds.OpticalPathSequence = [path_item]
    measures = Dataset()
    measures.PixelSpacing = [spacing_mm, spacing_mm]
    measures.SliceThickness = 0
    shared = Dataset()
    shared.PixelMeasuresSequence = [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.LossyImageCompression = "01"
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def write_wsi_series(folder: Path, base: np.ndarray, n_levels: int = 2) -> list[Path]:
    """A series in ``folder``: ``n_levels`` VOLUME instances (1:1, 1:2...), a LABEL and an
    OVERVIEW instance. Returns the instances, level 0 first."""
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series = {"study": generate_uid(), "series": generate_uid(), "frame": generate_uid()}
    paths, level = [], base
    for n in range(n_levels):
        spacing = 0.0005 * 2**n
        path = folder / f"level-{n}.dcm"
        paths.append(write_wsi_instance(path, level, "VOLUME", series, spacing_mm=spacing))
        level = np.ascontiguousarray(level[::2, ::2])
    h, w = base.shape[:2]
    label = np.ascontiguousarray(base[: h // 4, : w // 4])
    paths.append(write_wsi_instance(folder / "label.dcm", label, "LABEL", series))
    overview = np.ascontiguousarray(base[::4, ::4])
    paths.append(write_wsi_instance(folder / "overview.dcm", overview, "OVERVIEW", series))
    return paths
