"""Multi-dimensional microscopy formats (C, Z, T planes; 8/16-bit): OME-TIFF, ImageJ TIFF,
Zeiss CZI, Leica LIF; Nikon ND2 detected and refused. Readers are imported inside functions."""
