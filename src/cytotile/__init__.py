"""cytotile: an image management server for whole-slide and microscopy images."""

__version__ = "0.1.0"
