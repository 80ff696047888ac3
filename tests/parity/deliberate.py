"""The documented differences between PIMS's recorded answers and cytotile's (issue 13).

Each entry: an id, which docs/pims-parity.md names (in backticks) and explains; and a regular
expression on ``"<image key> <recorded url> <field>"`` (image key ``server`` for the server's
routes). A difference the replay finds must match one of them, or the test fails."""

from __future__ import annotations

import re

REPR = r"\S+ /image/\{image\}/info(/representations(/UPLOAD)?)? (representations/\d+/|items/\d+/)?"
HIST = r"/image/\{image\}/histogram/[^ ]+ (items/\d+/)?"

DELIBERATE: dict[str, str] = {
    # where files are: storage keys, never the server's local paths; created_at is the import's
    "file-location": r"(\S+ /file/\{image\}/info |" + REPR + r"file/)(filepath|created_at)$",
    # ORIGINAL is the upload itself in cytotile (PIMS: a symlink processed/original.<FORMAT>)
    "original-file": REPR + r"(file/)?(stem|extension|is_symbolic)$",
    # SPATIAL is cytotile's own serving pyramid (docs: The SPATIAL representation)
    "spatial-pyramid": REPR + r"(file/(extension|size|is_symbolic)|pyramid/.*)$",
    # the SVS's ScanScope ID is its microscope model (PIMS's OpenSlide plugin leaves it null)
    "instrument-model": r"svs /image/\{image\}/info(/instrument)? (instrument/)?microscope/model$",
    # metadata values typed: lists, rationals and enums as values, not Python reprs (UNKNOWN)
    "metadata-typed": r"\S+ /image/\{image\}/metadata items/TIFF\.\w+/(value|type)$",
    # cytotile serves more metadata items than PIMS (its count, size, is larger)
    "metadata-extra": r"\S+ /image/\{image\}/metadata size$",
    # histograms: every pixel counted (COMPLETE) of cytotile's stored pixels; exact bounds
    "histogram-complete": r"\S+ "
    + HIST
    + r"(type|minimum|maximum|first_bin|last_bin|histogram/length)$",
    # PIMS's FAST histograms (images over 1 Mpx) count a downscaled image: other counts
    "histogram-fast": r"(svs|big) " + HIST + r"histogram$",
    # int8 OME-TIFF: cytotile's bins start at the type's minimum (-128), PIMS's at 0
    "signed-histogram": r"ome " + HIST + r"(minimum|first_bin|last_bin|histogram)$",
    # /info: cytotile's own version; settings expose no paths, and cytotile's cache settings
    "info-settings": r"server /info (version|api_version|settings/.*)$",
    # /formats: cytotile's list (more formats; no PYROMETIFF/SIS ids), remarks, plugins
    "formats-list": r"server /formats(/\w+)? (size|items/length|(items/\w+/)?"
    r"(name|remarks|plugin|convertible|writable|readable|importable)|items/(PYROMETIFF|SIS))$",
    # /filters: ISODATA listed once with its aliases (PIMS lists it again per alias: 30 items);
    # descriptions are cytotile's own sentences
    "filters-list": r"server /filters(/\w+)? (size|items/length|(items/[\w-]+/)?description)$",
}

#: differences measured and not resolved yet (docs/pims-parity.md, "Open differences"): the
#: replay lets them pass so that any other one fails, and lists them for whoever fixes them
OPEN: dict[str, str] = {}

_COMPILED = {key: re.compile(pattern) for key, pattern in {**DELIBERATE, **OPEN}.items()}


def explain(key: str, url: str, field: str) -> str | None:
    """The id of the deliberate difference this one is, or None."""
    line = f"{key} {url} {field}"
    for name, pattern in _COMPILED.items():
        if pattern.match(line):
            return name
    return None
