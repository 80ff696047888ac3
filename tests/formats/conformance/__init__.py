"""The shared reader test suite every format passes (openslide-python's habit): cases are
registered from the ``cases_*.py`` modules of this package (see docs/formats.md)."""
