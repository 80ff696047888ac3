"""What an archive upload becomes: one multi-file image, or a collection of child uploads.

After detection found an archive, EXTRACTING_DATA unpacks it in an isolated child process
(:mod:`cytotile.importer.archives_extract`) into ``upload-<id>/extracted/`` (on a local root,
directly; on S3, in scratch space, then uploaded there) and detects the format of every file
(isolated too). Then:

- a file whose format is ``multi_file`` (MRXS, VMS, a DICOM series...) makes the whole tree one
  image, opened through that file: it is the upload's ORIGINAL and the import goes on as for
  any image (several such images in one archive: ERROR_FORMAT, one per archive); so does the
  one file of a compressed stream that holds no tar (``slide.svs.gz``);
- otherwise every image file becomes a child upload (``upload-<uuid5(parent, path)>``,
  imported by the same flow, UPLOAD and ORIGINAL referencing the extracted file); the others are
  listed in ``manifest.archive["skipped"]`` with their reason; the archive ends EXTRACTED with
  its ``children`` (ERROR_FORMAT when no file is an image). Children are imported by the
  caller's :data:`ChildImporter`: one after the other in this process by default, or enqueued
  (the import function, :mod:`cytotile.aws.importer`).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytotile.errors import ExtractionError, FormatError, ImportFailure
from cytotile.importer.archives import EXTRACTED, KINDS, Limits, child_upload_id, extracted_key
from cytotile.manifest import FileEntry, Status

if TYPE_CHECKING:
    from cytotile.importer.flow import _Run

CLASSIFY_TIMEOUT_S = 600
#: address space of the extraction step: it streams in 1 MiB chunks, so a decoder that asks for
#: more (an xz stream declaring a huge dictionary) is refused early
UNPACK_MEMORY_MB = 1024
DISK_MARGIN = 256 * 2**20  # bytes of free disk never filled by an extraction
MAX_SKIPPED = 200  # reasons recorded in the manifest


@dataclass(frozen=True)
class Child:
    """An image file of an archive, to be imported as its own upload."""

    id: str
    name: str
    path: str  # relative to the archive's extracted/ folder
    key: str  # upload-<parent>/extracted/<path>
    local: Path  # the file on this machine
    size: int
    #: the image of a file holding several (cytotile.importer.series): ``key`` is then the
    #: parent's file (a storage key, or an s3:// reference), ``path`` its name
    series: int | None = None


#: how an archive's children get imported (given the archive's run, once they are recorded)
ChildImporter = Callable[["_Run", list[Child]], None]


def limits_for(run: _Run, out: Path) -> Limits:
    s = run.settings
    free = shutil.disk_usage(_existing(out)).free - DISK_MARGIN
    return Limits(
        max_bytes=max(0, min(s.archive_max_bytes, free)),
        max_member_bytes=s.archive_max_member_bytes,
        max_ratio=s.archive_max_ratio,
        max_members=s.archive_max_members,
        max_depth=s.archive_max_depth,
    )


def _existing(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def import_archive(run: _Run, upload: Path, kind: str, tmp: Path) -> Path | None:
    """Extract the archive ``upload``; return the file to import as the upload's image (a
    multi-file image), or None once the collection is recorded (EXTRACTED) and its children
    handed to ``run.children``."""
    manifest, storage = run.manifest, run.storage
    if manifest.parent is not None:
        raise ExtractionError("an archive extracted from an archive is not extracted again")
    prefix = f"{manifest.id}/{EXTRACTED}"
    local = storage.local_path(prefix)
    out = local if local is not None else tmp / EXTRACTED
    with run.step(Status.EXTRACTING_DATA):
        storage.delete_prefix(prefix)  # what an interrupted attempt left
        try:
            members, written, single = _unpack_and_classify(run, upload, kind, out)
            manifest.archive = {"kind": kind, "files": len(members), "size": written}
            multi = [m for m in members if m.get("multi_file")]
            if single is not None:  # a compressed file: the upload is that file
                multi = [_single_image(members[0])]
            if multi:
                main = _main_member(multi)
            else:
                children = _collection(run, members, out)
            if local is None:
                _store(run, prefix, out, members)
        except Exception:
            with contextlib.suppress(Exception):
                storage.delete_prefix(prefix)
            raise
        if multi:
            key = extracted_key(manifest.id, main["path"])
            manifest.format_id = main["format_id"]
            manifest.archive["image"] = main["path"]
            size = main["size"]
            manifest.files.append(FileEntry("ORIGINAL", key, size, main["format_id"], True))
            return out / str(main["path"])
        manifest.save(storage)
    run.children(run, children)
    manifest.status = Status.EXTRACTED
    run.record(Status.EXTRACTED, "end", children=len(children))
    manifest.save(storage)
    return None


def _unpack_and_classify(
    run: _Run, upload: Path, kind: str, out: Path
) -> tuple[list[dict[str, Any]], int, str | None]:
    settings = run.settings
    payload = {
        "path": str(upload),
        "kind": kind,
        "out": str(out),
        "limits": limits_for(run, out).to_dict(),
        "name": run.manifest.original_name,
    }
    what = f"the {KINDS[kind]} archive"
    unpacked = _extracting(
        run, "unpack", payload, settings.timeout_s, f"cannot extract {what}", UNPACK_MEMORY_MB
    )
    files = unpacked["files"]
    if not files:
        raise ExtractionError(f"{what} holds no file")
    found = _extracting(
        run,
        "classify",
        {"root": str(out), "files": [f["path"] for f in files], "max_pixels": settings.max_pixels},
        min(settings.timeout_s, CLASSIFY_TIMEOUT_S),
        f"cannot detect the formats of the files of {what}",
    )
    sizes = {f["path"]: f["size"] for f in files}
    members = [{**m, "size": sizes[m["path"]]} for m in found["members"]]
    return members, int(unpacked["written"]), unpacked.get("single")


def _extracting(
    run: _Run,
    task: str,
    payload: dict[str, Any],
    timeout_s: float,
    what: str,
    memory_mb: int | None = None,
) -> dict[str, Any]:
    """An isolated step of the extraction: being killed (time, memory) is ERROR_EXTRACTION."""
    try:
        return run.isolated(task, payload, timeout_s, memory_mb)
    except ExtractionError:
        raise
    except ImportFailure as exc:
        raise ExtractionError(f"{what}: {exc.details}") from exc


def _single_image(member: dict[str, Any]) -> dict[str, Any]:
    if not member.get("format_id"):
        raise FormatError(f"the compressed file {member['path']!r}: {member['reason']}")
    return member


def _main_member(multi: list[dict[str, Any]]) -> dict[str, Any]:
    """The file that names the archive's multi-file image (the first of its one group)."""
    groups = {(m["format_id"], m["path"].rpartition("/")[0]) for m in multi}
    if len(groups) > 1:
        names = ", ".join(sorted({m["path"] for m in multi})[:5])
        raise FormatError(
            f"the archive holds several multi-file images ({names}): upload one per archive"
        )
    return min(multi, key=lambda m: m["path"])


def _collection(run: _Run, members: list[dict[str, Any]], out: Path) -> list[Child]:
    manifest = run.manifest
    images = [m for m in members if m.get("format_id")]
    skipped = [{"path": m["path"], "reason": m["reason"]} for m in members if "reason" in m]
    assert manifest.archive is not None
    manifest.archive["skipped"] = skipped[:MAX_SKIPPED]
    if not images:
        why = "; ".join(f"{s['path']}: {s['reason']}" for s in skipped[:3])
        raise FormatError(f"the archive holds no image ({why})")
    children = [
        Child(
            id=child_upload_id(manifest.id, m["path"]),
            name=m["path"].rsplit("/", 1)[-1],
            path=m["path"],
            key=extracted_key(manifest.id, m["path"]),
            local=out / m["path"],
            size=m["size"],
        )
        for m in images
    ]
    manifest.children = [
        {"id": c.id, "name": c.name, "path": c.path, "size": c.size, "status": "UPLOADED"}
        for c in children
    ]
    return children


def _store(run: _Run, prefix: str, out: Path, members: list[dict[str, Any]]) -> None:
    """Copy the extracted tree to the upload's ``extracted/`` (a storage with no local path)."""
    from cytotile.errors import DeploymentError

    try:
        for m in members:
            run.storage.upload_file(f"{prefix}/{m['path']}", out / m["path"])
    except Exception as exc:
        raise DeploymentError(f"cannot store the extracted files: {exc}") from exc


def import_inline(run: _Run, children: list[Child]) -> None:
    """The default :data:`ChildImporter`: each child imported here, one after the other, its
    final status recorded in the collection's manifest as it ends."""
    from cytotile.importer.flow import import_file

    for index, child in enumerate(children):
        result = import_file(
            run.storage,
            child.local,
            name=child.name,
            settings=run.settings,
            upload_id=child.id,
            upload_ref=child.key,
            parent=run.manifest.id,
            listeners=run.listeners,
            raise_retryable=run.raise_retryable,
            series=child.series,
        )
        run.manifest.children[index].update(status=result.status.value, reason=result.reason)
        run.manifest.save(run.storage)
