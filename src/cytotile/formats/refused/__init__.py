"""Formats recognised only to be refused with a reason that names them (``importable=False``):
their checker matches, and ``open`` raises a ``FormatError`` saying what the file is and why it
is not imported. Video containers and Olympus cellSens VSI."""
