"""The import flow, one function for the CLI, ``POST /upload`` and the import Lambda.

UPLOADED -> DETECTING_FORMAT -> EXTRACTING_DATA -> CONVERTING -> DEPLOYING -> DEPLOYED, or an
ERROR_* status with a human reason. An archive goes UPLOADED -> DETECTING_FORMAT ->
EXTRACTING_DATA, then either on as its one multi-file image, or EXTRACTED with a child upload per
image it holds (:mod:`cytotile.importer.archives_collection`). Untrusted bytes are only parsed
in isolated child processes with time and memory limits. The serving pyramid is read back before
it is deployed, and a failed import leaves nothing under ``processed/`` that could be served.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cytotile.errors import (
    ConversionError,
    DeploymentError,
    FormatError,
    ImageNotFound,
    ImportFailure,
)
from cytotile.importer.archives_collection import ChildImporter, import_archive, import_inline
from cytotile.importer.events import Emitter, ImportEvent, Listener, configured
from cytotile.importer.sandbox import run_isolated
from cytotile.importer.series import import_series
from cytotile.manifest import HISTOGRAM_NAME, PYRAMID_NAME, FileEntry, Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.import")
DETECT_TIMEOUT_S = 120


def safe_name(name: str) -> str:
    """The uploaded file's base name, with anything odd replaced."""
    base = re.split(r"[\\/]", name)[-1].strip()
    base = re.sub(r"[^\w.\- ()+,@\[\]:]", "_", base).lstrip(".")
    return base[:200] or "upload"


class _Run:
    """One import: the manifest, its events and its isolated steps."""

    def __init__(
        self,
        storage: Storage,
        manifest: Manifest,
        settings: ImportSettings,
        emitter: Emitter,
        *,
        listeners: Iterable[Listener] = (),
        raise_retryable: bool = False,
        children: ChildImporter = import_inline,
    ) -> None:
        self.storage = storage
        self.manifest = manifest
        self.settings = settings
        self.emitter = emitter
        #: what an archive's children are imported with (the caller's listeners, retry rule)
        self.listeners = list(listeners)
        self.raise_retryable = raise_retryable
        self.children = children

    def record(self, step: Status, phase: str, **details: Any) -> None:
        event = ImportEvent(self.manifest.id, step.value, phase, details=details)
        self.manifest.history.append(event.to_dict())
        self.emitter.emit(event)

    def finish(self, status: Status) -> None:
        """End in ``status`` once the manifest says so: a save that fails leaves the step
        before it (retried or failed as any step), and the listeners hear of the end only
        after the save (the core is never told DEPLOYED of an upload that is not)."""
        manifest = self.manifest
        before = manifest.status
        event = ImportEvent(manifest.id, status.value, "end")
        manifest.status = status
        manifest.history.append(event.to_dict())
        try:
            manifest.save(self.storage)
        except Exception:
            manifest.status = before
            manifest.history.pop()
            raise
        self.emitter.emit(event)

    @contextlib.contextmanager
    def step(self, status: Status) -> Iterator[None]:
        self.manifest.status = status
        self.record(status, "start")
        self.manifest.save(self.storage)
        try:
            yield
        except ImportFailure as exc:
            self.record(status, "failure", status=exc.status, reason=exc.details)
            raise
        except Exception as exc:
            self.record(status, "failure", reason=str(exc))
            raise
        self.record(status, "end")

    def isolated(
        self,
        task: str,
        payload: dict[str, Any],
        timeout_s: float,
        memory_mb: int | None = None,
        spare_next: bool = False,
    ) -> dict[str, Any]:
        """Run ``task`` in a child process, within ``timeout_s`` and the settings' deadline (a
        step cut short by the deadline fails with a reason that names it), and ``memory_mb``
        (at most the settings' limit); ``spare_next``: another step follows (its process is
        started beside this one: :func:`~cytotile.importer.sandbox.run_isolated`)."""
        limit_mb = min(memory_mb or self.settings.memory_mb, self.settings.memory_mb)
        deadline = self.settings.deadline
        bounded = deadline > 0 and time.time() + timeout_s > deadline
        if bounded:
            timeout_s = deadline - time.time()
            if timeout_s <= 0:
                raise ConversionError(self._late())
        try:
            return run_isolated(
                f"cytotile.importer.tasks:{task}",
                payload,
                timeout_s=timeout_s,
                memory_bytes=limit_mb * 1024 * 1024,
                spare_next=spare_next,
            )
        except ConversionError as exc:
            if bounded and time.time() >= deadline - 1:
                raise ConversionError(self._late()) from exc
            raise

    def _late(self) -> str:
        return f"did not finish within {self.settings.deadline_name}"


def import_file(
    storage: Storage,
    local_path: Path,
    *,
    name: str | None = None,
    settings: ImportSettings | None = None,
    upload_id: str | None = None,
    upload_ref: str | None = None,
    listeners: Iterable[Listener] = (),
    raise_retryable: bool = False,
    parent: str | None = None,
    children: ChildImporter = import_inline,
    series: int | None = None,
) -> Manifest:
    """Import ``local_path`` into ``storage``; return the final manifest (never raises for bad
    input: the manifest's status says what happened).

    ``upload_ref`` (e.g. ``s3://bucket/key``) records where the upload already is, instead of
    copying it into the upload folder. ``upload_id`` makes the import idempotent: a finished
    upload of that id is returned as it is.

    ``raise_retryable``: a failure that is not the input's fault (storage unavailable, an
    unexpected exception) is raised, after cleaning ``processed/`` and saving the manifest
    without a final status, instead of ending ERROR_DEPLOYMENT: the caller retries (the import
    function lets SQS deliver the message again) or records the failure itself.

    An archive's children are imported by ``children`` (here, one after the other, by default);
    ``parent`` is the archive upload a child comes from. So are the images of a file holding
    several (:mod:`cytotile.importer.series`): ``series`` is then the child's image in it.
    """
    settings = settings or ImportSettings()
    name = safe_name(name or local_path.name)
    uid = upload_id or f"upload-{uuid.uuid4()}"
    history: list[dict[str, Any]] = []  # of an interrupted attempt, kept
    if upload_id is not None:
        with contextlib.suppress(Exception):
            previous = Manifest.load(storage, uid)
            if previous.status.is_final:
                return previous
            history = previous.history
    listeners = list(listeners)
    extra: list[Listener] = [*listeners, *configured(settings)]
    source: dict[str, Any] = {"ref": upload_ref} if upload_ref else {}
    if series is not None:
        source["series"] = series
    manifest = Manifest(id=uid, original_name=name, source=source, history=history, parent=parent)
    run = _Run(
        storage,
        manifest,
        settings,
        Emitter(extra),
        listeners=listeners,
        raise_retryable=raise_retryable,
        children=children,
    )
    try:
        manifest.size = local_path.stat().st_size
        run.record(Status.UPLOADED, "end", size=manifest.size)
        _store_upload(run, local_path, upload_ref)
        with tempfile.TemporaryDirectory(
            prefix="cytotile-import-", dir=settings.workdir or None
        ) as tmp:
            _process(run, local_path, Path(tmp))
    except Exception as exc:
        if raise_retryable and is_retryable(exc):
            _interrupt(run, exc)
            raise
        if isinstance(exc, ImportFailure):
            _fail(run, Status(exc.status), exc.details)
        else:
            log.exception("import %s failed unexpectedly", uid)
            _fail(run, Status.ERROR_DEPLOYMENT, f"unexpected error: {describe(exc)}")
    return manifest


def is_retryable(exc: BaseException) -> bool:
    """Whether a failure may go away by itself: anything but a verdict on the input (a
    ``DeploymentError`` is the storage refusing a write)."""
    return not isinstance(exc, ImportFailure) or isinstance(exc, DeploymentError)


def describe(exc: BaseException) -> str:
    """A one-line reason for an exception."""
    if isinstance(exc, ImportFailure):
        return exc.details
    text = " ".join(str(exc).split())[:500]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def record_failure(
    storage: Storage,
    upload_id: str,
    status: Status,
    reason: str,
    *,
    name: str,
    upload_ref: str | None = None,
    size: int | None = None,
    settings: ImportSettings | None = None,
    listeners: Iterable[Listener] = (),
    parent: str | None = None,
) -> Manifest:
    """Record that ``upload_id`` ends ``status`` (an ERROR_*) for ``reason``, found outside the
    flow (the upload cannot fit, the last delivery of a failing import). An existing manifest
    keeps its history; nothing under ``processed/`` is left. ``parent``: the collection a child
    upload belongs to (kept by an existing manifest)."""
    settings = settings or ImportSettings()
    try:
        manifest = Manifest.load(storage, upload_id)
    except ImageNotFound:
        manifest = Manifest(
            id=upload_id,
            original_name=safe_name(name),
            source={"ref": upload_ref} if upload_ref else {},
            size=size,
            parent=parent,
        )
        if upload_ref:
            manifest.files = [FileEntry("UPLOAD", upload_ref, size, is_reference=True)]
    extra: list[Listener] = [*listeners, *configured(settings)]
    _fail(_Run(storage, manifest, settings, Emitter(extra)), status, reason)
    return manifest


def _store_upload(run: _Run, local_path: Path, upload_ref: str | None) -> None:
    manifest = run.manifest
    if upload_ref:
        entry = FileEntry("UPLOAD", upload_ref, manifest.size, is_reference=True)
    else:
        key = f"{manifest.id}/{manifest.original_name}"
        run.storage.upload_file(key, local_path)
        entry = FileEntry("UPLOAD", key, manifest.size)
    manifest.files = [entry]
    manifest.save(run.storage)


def _process(run: _Run, local_path: Path, tmp: Path) -> None:
    manifest, settings = run.manifest, run.settings
    with run.step(Status.DETECTING_FORMAT):
        if manifest.size == 0:
            raise FormatError("the file is empty")
        found = run.isolated("detect", {"path": str(local_path)}, DETECT_TIMEOUT_S, spare_next=True)
        manifest.format_id = found.get("format_id")
    if found.get("archive"):
        image = import_archive(run, local_path, found["archive"], tmp)
        if image is None:
            return  # a collection: EXTRACTED, its children imported or enqueued
        local_path = image  # the ORIGINAL of a multi-file image, recorded
    else:
        images = found.get("images") or []
        series = manifest.source.get("series")
        if series is None and len(images) > 1:
            import_series(run, local_path, images)
            return  # a collection: EXTRACTED, its images imported or enqueued
        if series is not None and not 0 <= series < max(len(images), 1):
            raise FormatError(f"the file holds {max(len(images), 1)} images, not {series + 1}")
        upload = manifest.files[0]
        manifest.files.append(
            FileEntry("ORIGINAL", upload.key, upload.size, manifest.format_id, is_reference=True)
        )
    payload = {
        "path": str(local_path),
        "format_id": manifest.format_id,
        "workdir": str(tmp),
        "series": manifest.source.get("series"),
    }
    with run.step(Status.EXTRACTING_DATA):
        extracted = run.isolated("extract", payload, settings.timeout_s, spare_next=True)
        manifest.image = extracted["metadata"]
        n_pixels = manifest.image["width"] * manifest.image["height"]
        if n_pixels > settings.max_pixels:
            raise FormatError(f"{n_pixels} pixels is more than the limit of {settings.max_pixels}")
    out = tmp / "visualisation.PYRTIFF"
    with run.step(Status.CONVERTING):
        converted = run.isolated(
            "convert",
            {**payload, "out": str(out), "quality": settings.jpeg_quality},
            settings.timeout_s,
        )
    with run.step(Status.DEPLOYING):
        _check_pyramid(tmp, out.name, manifest.image)
        _deploy(run, out, converted, extracted["associated"])
    run.finish(Status.DEPLOYED)


def _check_pyramid(folder: Path, name: str, image: dict[str, Any]) -> None:
    """Integrity check: the pyramid opens, matches the metadata, and its tiles decode."""
    from cytotile.pyramid import Pyramid
    from cytotile.storage.local import LocalStorage
    from cytotile.tiff.reader import PyramidReader

    try:
        reader = PyramidReader.load(LocalStorage(folder), name)
        header = reader.header
        expected = Pyramid(image["width"], image["height"])
        if (header.width, header.height, header.n_tiers) != (
            expected.base.width,
            expected.base.height,
            expected.n_tiers,
        ):
            raise ConversionError("the serving pyramid does not match the image's size")
        for level in (0, header.n_tiers - 1):
            tier = expected.at_level(level)
            for plane in range(header.n_planes):
                pixels = reader.read_tile(plane, level, tier.n_tx - 1, tier.n_ty - 1)
                region = tier.tile_region(tier.n_tx - 1, tier.n_ty - 1)
                if pixels.shape[:2] != (region.height, region.width):
                    raise ConversionError("a tile of the serving pyramid has the wrong size")
    except ImportFailure:
        raise
    except Exception as exc:
        raise ConversionError(f"the serving pyramid failed its integrity check: {exc}") from exc


def _deploy(
    run: _Run, pyramid: Path, converted: dict[str, Any], associated: dict[str, str]
) -> None:
    from cytotile.pyramid import Pyramid

    manifest, storage = run.manifest, run.storage
    assert manifest.image is not None
    try:
        for label, path in associated.items():
            key = f"{manifest.id}/processed/associated/{label}.png"
            storage.upload_file(key, Path(path))
            manifest.associated[label] = key
        histogram = json.dumps(converted["histogram"]).encode()
        storage.write_bytes(f"{manifest.id}/{HISTOGRAM_NAME}", histogram, "application/json")
        storage.upload_file(f"{manifest.id}/{PYRAMID_NAME}", pyramid)
    except Exception as exc:
        raise DeploymentError(f"cannot store the converted image: {exc}") from exc
    manifest.files += [
        FileEntry("SPATIAL", f"{manifest.id}/{PYRAMID_NAME}", converted["size"], "PYRTIFF"),
        FileEntry("HISTOGRAM", f"{manifest.id}/{HISTOGRAM_NAME}", len(histogram)),
    ]
    manifest.pyramid = {
        **Pyramid(manifest.image["width"], manifest.image["height"]).info,
        "compression": converted["compression"],
        "quality": run.settings.jpeg_quality,
        "method": converted.get("method", "libvips"),
        "index_size": converted["index_size"],
    }


def _interrupt(run: _Run, exc: BaseException) -> None:
    """Leave a retryable failure ready for the retry: no ``processed/`` files, the manifest at
    its last step (not final) with the reason."""
    manifest = run.manifest
    manifest.reason = f"interrupted, to be retried: {describe(exc)}"
    run.record(manifest.status, "interrupted", reason=manifest.reason)
    _unpublish(run, "interruption")


def _fail(run: _Run, status: Status, reason: str) -> None:
    manifest = run.manifest
    manifest.status = status
    manifest.reason = reason
    run.record(status, "end", reason=reason)
    _unpublish(run, "failure")


def _unpublish(run: _Run, what: str) -> None:
    """Remove everything that could be served (``processed/``) and save the manifest."""
    manifest = run.manifest
    manifest.files = [f for f in manifest.files if f.role in ("UPLOAD", "ORIGINAL")]
    manifest.associated = {}
    manifest.pyramid = None
    try:
        run.storage.delete_prefix(f"{manifest.id}/processed")
        manifest.save(run.storage)
    except Exception:
        log.exception("cannot record the %s of %s", what, manifest.id)
