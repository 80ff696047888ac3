"""A file that holds several images (LIF series, OME-TIFF ``Image`` elements, CZI scenes) is a
collection, as an archive of images is (PIMS's behaviour for collections, docs/formats.md).

Detection lists the file's images (:meth:`cytotile.formats.base.Format.images`, in the isolated
detection step). More than one: the upload goes DETECTING_FORMAT -> EXTRACTING_DATA ->
**EXTRACTED**, its manifest lists ``children`` (id, name, path, size, status, series), and each
image becomes a child upload imported like any upload: UPLOAD and ORIGINAL reference the
parent's file (the same bytes, never copied), ``source.series`` names the image (0-based) and
every isolated step opens that one (``Format.open_image``). Children are handed to the run's
:data:`~cytotile.importer.archives_collection.ChildImporter` as an archive's are: imported here
one after the other, or enqueued by the import function, each message carrying the series
index (:func:`cytotile.aws.events.child_notification`).

At most ``archive_max_members`` images (an archive's limit on its files; more: ERROR_FORMAT).
A child's id is derived from the parent's id and the series index (:func:`series_child_id`),
so a retried parent finds the same children and each child's import stays exactly-once under
its lease. Its name is ``<file> [series <k>: <name>]``, ``k`` counted from 1 as viewers show
series.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from cytotile.errors import FormatError
from cytotile.importer.archives import CHILD_NAMESPACE
from cytotile.importer.archives_collection import Child
from cytotile.manifest import Status

if TYPE_CHECKING:
    from cytotile.importer.flow import _Run

MAX_NAME = 120  # characters of an image's own name kept in the child's name


def series_child_id(parent_id: str, index: int) -> str:
    """The deterministic id of image ``index`` (0-based) of the collection ``parent_id``."""
    return f"upload-{uuid.uuid5(CHILD_NAMESPACE, f'{parent_id}#series={index}')}"


def child_name(file_name: str, index: int, name: str) -> str:
    """``<file> [series <index + 1>: <name>]`` (the name left out when it is empty)."""
    own = " ".join(name.split())[:MAX_NAME]
    return (
        f"{file_name} [series {index + 1}: {own}]" if own else f"{file_name} [series {index + 1}]"
    )


def import_series(run: _Run, local_path: Path, names: list[str]) -> None:
    """Record the upload as a collection of its images and hand them to ``run.children``."""
    manifest, storage = run.manifest, run.storage
    upload = manifest.files[0]  # UPLOAD: the file's key, or its reference (s3://...)
    with run.step(Status.EXTRACTING_DATA):
        limit = run.settings.archive_max_members  # the limit on an archive's files
        if len(names) > limit:
            raise FormatError(
                f"the file holds {len(names)} images, more than the limit of {limit} "
                "(CYTOTILE_ARCHIVE_MAX_MEMBERS): each would be an upload of its own"
            )
        children = [
            Child(
                id=series_child_id(manifest.id, k),
                name=child_name(manifest.original_name, k, name),
                path=manifest.original_name,
                key=upload.key,
                local=local_path,
                size=manifest.size or 0,
                series=k,
            )
            for k, name in enumerate(names)
        ]
        manifest.children = [
            {
                "id": c.id,
                "name": c.name,
                "path": c.path,
                "size": c.size,
                "status": Status.UPLOADED.value,
                "series": c.series,
            }
            for c in children
        ]
        manifest.save(storage)
    run.children(run, children)
    manifest.status = Status.EXTRACTED
    run.record(Status.EXTRACTED, "end", children=len(children))
    manifest.save(storage)
