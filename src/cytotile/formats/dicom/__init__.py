"""DICOM: whole-slide microscopy series (VL Whole Slide Microscopy Image Storage) read with
pydicom (attributes) and OpenSlide's DICOM support (pixels); other DICOM is refused by name."""
