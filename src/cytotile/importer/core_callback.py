"""The Cytomine listener: what PIMS's ``CytomineListener`` does in a core during an import, as a
listener of the import events (:mod:`cytotile.importer.events`).

The upload route registers the upload's ``UploadedFile`` in the core first
(:mod:`cytotile.api.cytomine_core`): its id is what the core knows. Then, signed with this
server's key pair (``CYTOTILE_CORE_KEYS``):

- a step's start updates the ``UploadedFile``'s status (``PUT uploadedfile/<id>.json``, the whole
  object as the core last answered it): DETECTING_FORMAT 10, EXTRACTING_DATA 20, CONVERTING 30
  (which also creates the ``UploadedFile`` of the serving pyramid, a child, as PIMS registers its
  converted file), DEPLOYING 40; each code once, a retry included;
- DEPLOYED: the converted child gets its size and CONVERTED (104); ``POST abstractimage.json``,
  its ``AbstractSlice``s (``POST abstractslice.json``, by 15), the image's metadata as
  properties (``POST domain/<class>/<id>/property.json``), the upload DEPLOYED (100) with its
  format, the user's ``keys``/``values`` as properties, and an ``ImageInstance`` in each project
  (``POST imageinstance.json``); ``images`` keeps what the core answered (PIMS's sync answer);
- an ERROR_* status is set on the file and its parents (PIMS propagates errors); EXTRACTED 102;
- an archive's member (another upload id) gets its own ``UploadedFile``, child of the archive's.

A core that is down or refuses never fails the import (logged); a DEPLOYED upload whose images
the core refused is marked ERROR_DEPLOYMENT there. A core that did not answer (no answer, or a
5xx) is noted (:attr:`CytomineListener.unavailable`): on AWS the message then fails, and a later
delivery registers what :func:`registered` finds missing (:mod:`cytotile.aws.importer`); a local
server tries again later (:mod:`.core_retry`).

Idempotent across retries: what was created is kept per upload (:mod:`.core_state`), so a retried
import (SQS's redelivery, a local retry, a new listener or the same) creates only what is missing
(what the core refused before included) and puts DEPLOYED back after an error; a step's code is
never sent twice. A call that created a record but got no answer (the connection cut, perhaps
after the core committed) is noted too: the retry looks that record up in the core before making
it (the ``UploadedFile`` by its parent and file name, the ``AbstractImage`` by its
``UploadedFile``, the ``ImageInstance``s, slices and properties by their image). A finished import
is not imported again, so its redelivery sends nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cytotile.importer import core_lookup as lookup
from cytotile.importer.core_codes import AT_START, CODES, STEP_CODES

__all__ = ["AT_START", "CODES", "STEP_CODES", "CytomineListener", "registered"]

if TYPE_CHECKING:  # the serving side imports CODES only: nothing more at cold start
    from cytotile.cytomine_core import CoreClient
    from cytotile.importer.core_state import Registration
    from cytotile.importer.events import ImportEvent
    from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.import")


def registered(storage: Storage, upload_id: str, projects: tuple[int, ...]) -> bool:
    """Whether the core has a DEPLOYED upload's image as the listener leaves it: its
    ``AbstractImage``, the upload DEPLOYED (the last status sent), an ``ImageInstance`` in each
    of ``projects`` (properties are best effort, as PIMS saves them)."""
    from cytotile.importer.core_state import Registration

    state = Registration(storage, upload_id)
    return (
        state.get("image") is not None
        and state.last_sent() == CODES["DEPLOYED"]
        and all(state.instance(p) is not None for p in projects)
    )


class CytomineListener:
    """The core's side of one upload (and of its archive's members). What it created is kept
    per upload (:mod:`cytotile.importer.core_state`): a retry creates only what is missing."""

    def __init__(
        self,
        core: CoreClient,
        storage: Storage,
        upload_id: str,
        uploaded_file: dict[str, Any],
        projects: tuple[int, ...] = (),
        properties: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.core, self.storage, self.upload_id = core, storage, upload_id
        self.projects, self.properties = projects, properties
        self.files: dict[str, dict[str, Any]] = {upload_id: uploaded_file}  # upload id -> UF
        self.states: dict[str, Registration] = {}  # upload id -> what the core has of it
        self.images: list[dict[str, Any]] = []  # {"image": ..., "imageInstances": [...]}
        #: upload ids whose registration a core that did not answer left undone (not a refusal)
        self.unavailable: set[str] = set()

    @property
    def uploaded_file(self) -> dict[str, Any]:
        return self.files[self.upload_id]

    def __call__(self, event: ImportEvent) -> None:
        from cytotile.cytomine_core import CoreError

        try:
            self._handle(event.upload_id, event.step, event.phase)
        except CoreError as exc:
            log.warning("core %s %s %s: %s", event.upload_id, event.step, event.phase, exc)
            if exc.status is None or exc.status >= 500:  # down or failing: may answer later
                self.unavailable.add(event.upload_id)

    def _handle(self, upload_id: str, step: str, phase: str) -> None:
        if phase not in ("start", "end") or not self._known(upload_id):
            return
        if phase == "start" and step in AT_START:
            try:
                if step == "CONVERTING":
                    self._start_conversion(upload_id)
            finally:  # the step's status even when its child could not be registered
                self._status(upload_id, CODES[step])
        elif phase == "end" and step == "DEPLOYED":
            self._deployed(upload_id)
        elif phase == "end" and step == "EXTRACTED":
            self._status(upload_id, CODES[step])
        elif phase == "end" and step.startswith("ERROR_"):
            self._error(upload_id, CODES.get(step, CODES["ERROR_DEPLOYMENT"]))

    def _state(self, upload_id: str) -> Registration:
        from cytotile.importer.core_state import Registration

        if upload_id not in self.states:
            root = self.uploaded_file.get("id") if upload_id == self.upload_id else None
            self.states[upload_id] = Registration(self.storage, upload_id, root)
        return self.states[upload_id]

    def _known(self, upload_id: str) -> bool:
        """An archive's member is registered at its first event after it is stored (once: a
        retry finds its ``UploadedFile`` in its state)."""
        if upload_id in self.files:
            return True
        from cytotile.errors import ImageNotFound
        from cytotile.importer.core_models import uploaded_file
        from cytotile.manifest import Manifest

        try:
            manifest = Manifest.load(self.storage, upload_id)
        except ImageNotFound:
            return False  # not stored yet
        state = self._state(upload_id)
        if isinstance(state.get("uploadedFile"), dict) and "id" in state.get("uploadedFile"):
            self.files[upload_id] = state.get("uploadedFile")
            return True
        parent = self.files.get(manifest.parent or "", self.uploaded_file)
        filename = f"{upload_id}/{manifest.original_name}"
        body = uploaded_file(parent, manifest.original_name, filename, manifest.size,
                             CODES["UPLOADED"], parent.get("id"))  # fmt: skip
        made = lookup.created(
            state, "uploadedFile",
            lambda: self.core.saved("POST", "uploadedfile.json", body, "uploadedfile"),
            lambda: lookup.child(self.core, parent.get("id"), filename),
        )  # fmt: skip
        self.files[upload_id] = state.put("uploadedFile", made)
        return True

    def _status(self, upload_id: str, code: int, **changes: Any) -> None:
        state = self._state(upload_id)
        if state.last_sent() == code or (code in STEP_CODES and state.step_reached(code)):
            return  # a step's code once and in order, a retry included; an outcome again
        from cytotile.cytomine_core import CoreError

        try:
            self.files[upload_id] = self._put({**self.files[upload_id], **changes, "status": code})
        except CoreError as exc:
            if exc.status is None and code in STEP_CODES:  # perhaps set: the next step's
                state.sent(code)  # status follows it anyway (an outcome is sent again)
            raise
        state.sent(code)

    def _put(self, uf: dict[str, Any]) -> dict[str, Any]:
        return self.core.saved("PUT", f"uploadedfile/{uf['id']}.json", uf, "uploadedfile")

    def _start_conversion(self, upload_id: str) -> None:
        from cytotile.importer.core_models import uploaded_file
        from cytotile.manifest import PYRAMID_NAME

        state = self._state(upload_id)
        if state.get("pyramid") is not None:
            return  # registered by an earlier attempt
        parent = self.files[upload_id]
        filename = f"{upload_id}/{PYRAMID_NAME}"
        body = uploaded_file(parent, PYRAMID_NAME.rsplit("/", 1)[-1], filename, 0,
                             CODES["CONVERTING"], parent["id"])  # fmt: skip
        made = lookup.created(
            state, "pyramid",
            lambda: self.core.saved("POST", "uploadedfile.json", body, "uploadedfile"),
            lambda: lookup.child(self.core, parent["id"], filename),
        )  # fmt: skip
        state.put("pyramid", made)

    def _deployed(self, upload_id: str) -> None:
        from cytotile.cytomine_core import CoreError
        from cytotile.manifest import Manifest, pyramid_key

        # as last saved (at the last step's start): the image's metadata and format are in it
        manifest = Manifest.load(self.storage, upload_id)
        state = self._state(upload_id)
        pyramid = state.get("pyramid")
        if pyramid is not None and pyramid.get("status") != CODES["CONVERTED"]:
            size = self.storage.size(pyramid_key(upload_id))
            done = self._put({**pyramid, "size": size, "status": CODES["CONVERTED"]})
            state.put("pyramid", done)
        try:
            self._register_image(upload_id, manifest.image or {}, manifest)
        except CoreError:
            self._status(upload_id, CODES["ERROR_DEPLOYMENT"])
            raise

    def _register_image(self, upload_id: str, image: dict[str, Any], manifest: Any) -> None:
        from cytotile.importer import core_models as models

        uf, state = self.files[upload_id], self._state(upload_id)
        ai = state.get("image")
        if ai is None:
            name = uf.get("originalFilename") or manifest.original_name
            body = models.abstract_image(image, uf["id"], name)
            ai = lookup.created(
                state, "image",
                lambda: self.core.saved("POST", "abstractimage.json", body, "abstractimage"),
                lambda: lookup.image_of(self.core, uf["id"]),
            )  # fmt: skip
            state.put("image", ai)
        self._save_slices(state, ai, models.abstract_slices(image, ai["id"], uf["id"]))
        metadata = list((image.get("raw_metadata") or {}).items())
        self._save_properties(state, "metadata", ai, metadata)
        self._status(upload_id, CODES["DEPLOYED"], contentType=manifest.format_id or "")
        self._save_properties(state, "properties", ai, list(self.properties))
        instances = [self._instance(state, ai, project) for project in self.projects]
        self.images = [i for i in self.images if i["upload_id"] != upload_id]
        self.images.append({"upload_id": upload_id, "image": ai, "imageInstances": instances})

    def _instance(self, state: Registration, ai: dict[str, Any], project: int) -> dict[str, Any]:
        """The image's ``ImageInstance`` in ``project``: the one registered, or a new one."""
        instance = state.instance(project)
        if instance is not None:
            return instance

        def create() -> dict[str, Any]:
            body = {"baseImage": ai["id"], "project": project}
            return self.core.saved("POST", "imageinstance.json", body, "imageinstance")

        instance = lookup.created(
            state, f"instance {project}", create, lambda: lookup.instance_of(self.core, ai, project)
        )
        state.add_instance(project, instance)
        return instance

    def _save_properties(
        self, state: Registration, kind: str, ai: dict[str, Any], pairs: list[tuple[str, Any]]
    ) -> None:
        """By 15, those not saved yet; a refused chunk is logged and the others saved (PIMS: a
        partial upload does not fail the import), and tried again by a retry."""
        from cytotile.cytomine_core import CoreError
        from cytotile.importer import core_models as models

        saved = state.keys(kind)
        missing = [p for p in models.properties(ai, pairs) if p["key"] not in saved]
        if missing and state.unanswered(kind):  # a chunk the core may have saved
            there = lookup.property_keys(self.core, ai)
            state.add_keys(kind, [p["key"] for p in missing if p["key"] in there])
            missing = [p for p in missing if p["key"] not in there]
            state.answered(kind)
        for chunk in models.chunks(missing):
            try:
                self.core.post(models.property_uri(ai), chunk)
            except CoreError as exc:
                log.warning("core: properties of abstract image %s: %s", ai["id"], exc)
                if exc.status is None:
                    state.lost(kind)
                continue
            state.add_keys(kind, [p["key"] for p in chunk])

    def _save_slices(
        self, state: Registration, ai: dict[str, Any], slices: list[dict[str, Any]]
    ) -> None:
        """By 15, in order, from the first the core lacks (counted in the state; looked up in
        the core after a chunk that got no answer)."""
        from cytotile.cytomine_core import CoreError
        from cytotile.importer import core_models as models

        done = state.get("slices") or 0
        if done < len(slices) and state.unanswered("slices"):
            there = lookup.planes_of(self.core, ai)
            while done < len(slices) and lookup.plane(slices[done]) in there:
                done += 1
            state.put("slices", done)
            state.answered("slices")
        for chunk in models.chunks(slices[done:]):
            try:
                self.core.post("abstractslice.json", chunk)
            except CoreError as exc:
                if exc.status is None:  # sent, perhaps saved
                    state.lost("slices")
                raise
            done += len(chunk)
            state.put("slices", done)

    def _error(self, upload_id: str, code: int) -> None:
        state = self._state(upload_id)
        pyramid = state.get("pyramid")
        if pyramid is not None and pyramid.get("status") == CODES["CONVERTING"]:
            state.put("pyramid", self._put({**pyramid, "status": code}))
        self._status(upload_id, code)
        parent_id = self.files[upload_id].get("parent")
        parent = next((k for k, f in self.files.items() if f.get("id") == parent_id), None)
        if parent is not None and parent != upload_id:
            self._error(parent, code)  # PIMS propagates an error to the parents

    def current(self) -> dict[str, Any]:
        """The upload's ``UploadedFile`` as the core has it now (fetched, as PIMS answers a sync
        upload), or as last answered when the core cannot be asked."""
        from cytotile.cytomine_core import CoreError

        try:
            found = self.core.get(f"uploadedfile/{self.uploaded_file['id']}.json")
        except CoreError as exc:
            log.warning("core: uploaded file %s: %s", self.uploaded_file["id"], exc)
            return self.uploaded_file
        return found if isinstance(found, dict) else self.uploaded_file
