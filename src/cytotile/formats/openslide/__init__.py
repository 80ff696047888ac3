"""Vendor whole-slide formats read through OpenSlide (openslide-python + openslide-bin)."""
