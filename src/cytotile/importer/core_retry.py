"""A local server's later tries at a Cytomine registration that a core that did not answer left
undone (on AWS the import function's message is delivered again instead:
:mod:`cytotile.aws.cytomine`).

:func:`register_later` tries again after each of :data:`RETRY_DELAYS_S`, in a daemon thread,
until :func:`~cytotile.importer.core_callback.registered`; what is missing is created once (the
state creates nothing twice). Each registration left to try is noted under :data:`PENDING` in the
storage until then, and :func:`resume_later` (``cytotile serve``, at its start) tries the noted
ones again: a restart, or a core down through every try, does not lose them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from cytotile.importer.core_callback import CytomineListener, registered

if TYPE_CHECKING:
    from cytotile.cytomine_core import CoreClient
    from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.import")

#: a local server's waits before each new try at a registration a core that did not answer left
#: undone (on AWS the import function's message is delivered again instead)
RETRY_DELAYS_S = (30.0, 120.0, 600.0, 1800.0)
#: where a local server notes the registrations it still has to try (one key an upload): a
#: restart resumes them (:func:`resume_later`)
PENDING = "cytomine-pending/"


class Gone(Exception):
    """The upload a pending registration was for is no more (deleted, or not DEPLOYED)."""


def register_later(listener: CytomineListener, upload_id: str) -> threading.Thread:
    """A DEPLOYED upload's registration tried again after each of :data:`RETRY_DELAYS_S`, in a
    daemon thread, until :func:`registered`: what is missing is created (the state creates
    nothing twice). Noted under :data:`PENDING` until then, for a restart to resume."""
    try:
        listener.storage.write_bytes(_pending_key(upload_id), b"{}", "application/json")
    except Exception as exc:  # only a restart would forget it
        log.warning("core: cannot note %s's registration as pending: %s", upload_id, exc)
    return _retry(listener.storage, upload_id, lambda: listener)


def resume_later(storage: Storage, core: CoreClient) -> list[threading.Thread]:
    """The registrations noted under :data:`PENDING` (a local server's, left by a restart or
    by tries that all found the core down), each tried again as :func:`register_later` does,
    with a listener made from the upload's manifest and the core's ``UploadedFile``."""
    names = (key[len(PENDING) :] for key in storage.list(PENDING))
    ids = sorted(n.removesuffix(".json") for n in names if n.endswith(".json") and "/" not in n)
    return [_retry(storage, i, functools.partial(_listener_of, storage, core, i)) for i in ids]


def _pending_key(upload_id: str) -> str:
    return f"{PENDING}{upload_id}.json"


def _listener_of(storage: Storage, core: CoreClient, upload_id: str) -> CytomineListener | None:
    """The listener of a DEPLOYED upload's registration, from what its manifest recorded; None
    while the core cannot be asked for its ``UploadedFile`` (:class:`Gone`: nothing to do)."""
    from cytotile.cytomine_core import CoreError
    from cytotile.errors import ImageNotFound
    from cytotile.manifest import Manifest, Status

    try:
        manifest = Manifest.load(storage, upload_id)
    except ImageNotFound:
        raise Gone(upload_id) from None
    recorded = manifest.source.get("cytomine") or {}
    if manifest.status is not Status.DEPLOYED or "uploadedFile" not in recorded:
        raise Gone(upload_id)
    try:  # the listener PUTs the object whole: the core's own, as it is now
        uploaded = core.get(f"uploadedfile/{recorded['uploadedFile']}.json")
    except CoreError as exc:
        log.info("core: %s: %s", upload_id, exc)
        return None
    projects = tuple(int(p) for p in recorded.get("projects") or ())
    pairs = tuple((str(k), str(v)) for k, v in (recorded.get("properties") or {}).items())
    return CytomineListener(core, storage, upload_id, uploaded, projects, pairs)


def _retry(
    storage: Storage, upload_id: str, make: Callable[[], CytomineListener | None]
) -> threading.Thread:
    from cytotile.importer.events import ImportEvent

    def forget() -> None:
        with contextlib.suppress(Exception):  # tried again at the next start, at worst
            storage.delete_prefix(_pending_key(upload_id))

    def run() -> None:
        for delay in RETRY_DELAYS_S:
            time.sleep(delay)
            try:
                listener = make()
            except Gone:
                forget()
                return
            if listener is None:  # the core is still down
                continue
            listener.unavailable.discard(upload_id)
            listener(ImportEvent(upload_id, "DEPLOYED", "end"))
            if registered(storage, upload_id, listener.projects):
                log.info("core: %s registered on a later try", upload_id)
                forget()
                return
            if upload_id not in listener.unavailable:  # a refusal: the core's verdict
                forget()
                return
        log.warning("core: %s is still not registered: the core did not answer (tried again "
                    "at the next start)", upload_id)  # fmt: skip

    thread = threading.Thread(target=run, name=f"core-{upload_id}", daemon=True)
    thread.start()
    return thread
