"""Tests of the common formats read by libvips, Pillow and imagecodecs."""
