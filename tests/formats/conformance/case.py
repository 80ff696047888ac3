"""A conformance case: how to build (or find) a file of one format, and which independent
library reads it for the comparison. Cases register themselves with :func:`register` from a
``cases_<family>.py`` module of this package; the suite discovers every such module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.formats.conformance.references import Reference
from tests.helpers.samples import sample

#: every registered case, by id
CASES: dict[str, Case] = {}


@dataclass(frozen=True)
class Case:
    """One file of one format.

    ``make(folder)`` writes the file into an empty ``folder`` (or returns a sample's path) and
    returns the path of the file that names the image (the ``.mrxs``, the ``.vms``, one DICOM
    instance). ``reference(path)`` opens it with the independent (vendor) library."""

    id: str
    format_id: str
    make: Callable[[Path], Path]
    reference: Callable[[Path], Reference]
    n_channels: int = 3
    pixel_type: str = "uint8"
    #: raw-metadata key holding the original's number of resolution levels (None: one level)
    levels_key: str | None = None
    #: ImageMetadata fields or ``raw_metadata`` keys ("raw:KEY") with their expected values
    metadata: dict[str, Any] = field(default_factory=dict)
    #: the image spans several files: detection gets the named file alone, renamed; the import
    #: gets the whole folder as written
    multi_file: bool = False
    #: detection still works with the named file alone, renamed (False: the name links the
    #: files of the image, e.g. MRXS's ``<name>.mrxs`` and ``<name>/``: detection gets them as made)
    renamable: bool = True
    #: mean absolute difference allowed between served and reference pixels (0-255)
    tolerance: float = 3.0
    #: the same for the thumbnail, when it differs (None: ``tolerance``)
    thumb_tolerance: float | None = None

    def __str__(self) -> str:
        return self.id


def register(*cases: Case) -> None:
    """Add cases to the suite; ids are unique across all the ``cases_*`` modules."""
    for case in cases:
        if case.id in CASES:
            raise ValueError(f"conformance case {case.id!r} is registered twice")
        CASES[case.id] = case


def real(name: str, format_id: str, reference: Callable[[Path], Reference], **kw: Any) -> Case:
    """A case on a real sample of ``../shared/samples`` (skipped when the samples are absent).
    Multi-file samples: ``name`` is the named file, ``kw["siblings"]`` the others."""
    siblings: tuple[str, ...] = tuple(kw.pop("siblings", ()))

    def make(folder: Path) -> Path:
        path = sample(name)
        if not siblings:
            return path
        for other in (name, *siblings):  # a folder of its own, with only this image's files
            (folder / other).symlink_to(sample(other))
        return folder / name

    return Case(name, format_id, make, reference, multi_file=bool(siblings), **kw)
