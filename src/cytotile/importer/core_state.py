"""What the Cytomine listener already did in the core for one upload, kept next to its manifest
(``upload-<id>/cytomine-core.json``) so that a retried import (SQS delivering the import
function's message again, or a local retry of the same upload id) completes what is missing
and creates nothing twice.

Not in the manifest itself: the flow saves its own copy of the manifest after each event, which
would erase what a listener wrote into it. Each record is saved as soon as the core answers it:

- ``uploadedFile``: the upload's ``UploadedFile`` (an archive's member: the one created for it;
  the root's: its id, to tell a stale record from another upload's);
- ``sent``: the status codes PUT, in order (a step's once, a retry included; an outcome, e.g.
  DEPLOYED, again when an error was sent after it);
- ``pyramid``: the converted pyramid's ``UploadedFile``; ``image``: the ``AbstractImage``;
- ``slices``: how many of its ``AbstractSlice``s are saved (they are saved in order, by 15);
- ``metadata`` / ``properties``: the keys of the properties saved (the image's metadata, the
  user's ``keys``/``values``); ``instances``: project id -> its ``ImageInstance``.

- ``unanswered``: the records a call created without its answer coming back (the connection cut,
  perhaps after the core committed): the retry looks each one up in the core before creating it
  (``core_callback``), so that a lost answer does not make it twice either.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from cytotile.importer.core_codes import STEP_CODES

if TYPE_CHECKING:
    from cytotile.storage.base import Storage

log = logging.getLogger("cytotile.import")

STATE_NAME = "cytomine-core.json"


def state_key(upload_id: str) -> str:
    return f"{upload_id}/{STATE_NAME}"


class Registration:
    """The records of one upload in the core, loaded at first use, saved after each change."""

    def __init__(self, storage: Storage, upload_id: str, uploaded_file_id: Any = None) -> None:
        self.storage, self.upload_id = storage, upload_id
        self.data: dict[str, Any] = self._load()
        known = self.data.get("uploadedFile")
        if uploaded_file_id is not None and known and known.get("id") != uploaded_file_id:
            self.data = {}  # another UploadedFile's records: not this upload's
        if uploaded_file_id is not None and not self.data:
            self.data["uploadedFile"] = {"id": uploaded_file_id}

    def _load(self) -> dict[str, Any]:
        from cytotile.errors import NotFound

        try:  # a storage that cannot be read now raises: better nothing sent than twice
            raw = self.storage.read(state_key(self.upload_id))
        except NotFound:
            return {}
        try:
            found = json.loads(raw)
        except ValueError:  # damaged for good: registered as if nothing was (logged)
            log.warning("core: the state of %s is not JSON", self.upload_id)
            return {}
        return found if isinstance(found, dict) else {}

    def save(self) -> None:
        """Written at once; a storage that refuses only loses the memory of a retry (logged)."""
        body = json.dumps(self.data, sort_keys=True).encode()
        try:
            self.storage.write_bytes(state_key(self.upload_id), body, "application/json")
        except Exception as exc:
            log.warning("core: cannot keep the state of %s: %s", self.upload_id, exc)

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def put(self, name: str, value: Any) -> Any:
        self.data[name] = value
        self.save()
        return value

    def step_reached(self, code: int) -> bool:
        """Whether step ``code`` or a later step was sent (the steps' codes grow: 10, 20, 30,
        40): a step that failed once is not sent again after the next one."""
        return any(c in STEP_CODES and c >= code for c in self.data.get("sent", []))

    def last_sent(self) -> int | None:
        sent = self.data.get("sent") or [None]
        return sent[-1]  # type: ignore[no-any-return]

    def sent(self, code: int) -> None:
        self.put("sent", [*self.data.get("sent", []), code])

    def keys(self, name: str) -> set[str]:
        return set(self.data.get(name, []))

    def add_keys(self, name: str, keys: list[str]) -> None:
        self.put(name, sorted(self.keys(name) | set(keys)))

    def unanswered(self, name: str) -> bool:
        """Whether a call creating record ``name`` got no answer (the core may have it)."""
        return name in self.data.get("unanswered", [])

    def lost(self, name: str) -> None:
        if not self.unanswered(name):
            self.put("unanswered", [*self.data.get("unanswered", []), name])

    def answered(self, name: str) -> None:
        if self.unanswered(name):
            self.put("unanswered", [n for n in self.data["unanswered"] if n != name])

    def instance(self, project: int) -> dict[str, Any] | None:
        found = self.data.get("instances", {}).get(str(project))
        return found if isinstance(found, dict) else None

    def add_instance(self, project: int, instance: dict[str, Any]) -> None:
        self.put("instances", {**self.data.get("instances", {}), str(project): instance})
