"""Calling a Cytomine core back during an import, as PIMS's Cytomine listener updates the
core's ``UploadedFile`` at every step: a listener of the import events.

With ``CYTOTILE_CORE_CALLBACK_URL`` (the core's API root, e.g. ``https://core/api``) each change
of an upload's status is sent as ``PUT <url>/uploadedfile/<upload id>.json`` with the
``UploadedFile`` members PIMS updates (``status`` as the core's numeric code, ``filename``,
``originalFilename``, ``size``) and cytotile's own (``statusName``, ``reason``), signed as
Cytomine's clients sign (``authorization: CYTOMINE <public key>:<signature>``, the key pair of
``CYTOTILE_CORE_KEYS``, ``public:private``, never logged). A step's start sends its code
(DETECTING_FORMAT 10, CONVERTING 30, ...), the end of the upload or of a final step its
(UPLOADED 0, DEPLOYED 100, ERROR_FORMAT 11, ...); a status already sent is not sent again. A
core that does not answer never fails the import (logged). What PIMS does besides (registering
the ``UploadedFile`` at upload time, creating ``AbstractImage``, slices and ``ImageInstance``s)
is left to do (docs/annotations.md, "Cytomine").
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from cytotile.cytomine_hmac import sign, text_to_sign

if TYPE_CHECKING:  # the serving side imports CODES only: nothing more at cold start
    from cytotile.importer.events import ImportEvent

log = logging.getLogger("cytotile.import")

#: Cytomine core's UploadedFileStatus codes (even: information or success, odd: an error)
CODES = {
    "UPLOADED": 0, "DETECTING_FORMAT": 10, "ERROR_FORMAT": 11, "EXTRACTING_DATA": 20,
    "ERROR_EXTRACTION": 21, "CONVERTING": 30, "ERROR_CONVERSION": 31, "DEPLOYING": 40,
    "ERROR_DEPLOYMENT": 41, "DEPLOYED": 100, "EXTRACTED": 102, "CONVERTED": 104,
}  # fmt: skip
#: statuses sent when recorded as ended: the upload itself, and the final ones
AT_END = {"UPLOADED", "DEPLOYED", "EXTRACTED", "CONVERTED"}


class CoreCallback:
    """A listener: one signed ``PUT`` to the core per status change of an upload."""

    def __init__(self, url: str, keys: str, timeout_s: float = 5.0) -> None:
        public, sep, private = keys.partition(":")
        if not sep or not public.strip() or not private.strip():
            raise ValueError("CYTOTILE_CORE_KEYS: public:private is expected")
        self.url = url.rstrip("/")
        self.public, self.private = public.strip(), private.strip()
        self.timeout_s = timeout_s
        self.sent: dict[str, int] = {}  # upload id -> last code sent
        self.names: dict[str, dict[str, Any]] = {}  # upload id -> name and size, once known

    def __call__(self, event: ImportEvent) -> None:
        step = event.step
        if event.upload_id not in self.names or "size" in event.details:
            known = self.names.setdefault(event.upload_id, {})
            known.update({k: v for k, v in event.details.items() if k in ("size", "name")})
        wanted = event.phase == "start" or (
            event.phase == "end" and (step in AT_END or step.startswith("ERROR_"))
        )
        code = CODES.get(step)
        if not wanted or code is None or self.sent.get(event.upload_id) == code:
            return
        body = {
            "id": event.upload_id,
            "status": code,
            "statusName": step,
            "reason": event.details.get("reason"),
            **self._file(event.upload_id),
        }
        if self.put(f"/uploadedfile/{urllib.parse.quote(event.upload_id)}.json", body):
            self.sent[event.upload_id] = code

    def _file(self, upload_id: str) -> dict[str, Any]:
        known = self.names.get(upload_id, {})
        name = known.get("name")
        found = {"size": known.get("size")}
        if name:
            found |= {"originalFilename": name, "filename": f"{upload_id}/{name}"}
        return found

    def put(self, path: str, body: dict[str, Any]) -> bool:
        """True when the core accepted it; never raises."""
        import urllib.request

        url = self.url + path
        target = urllib.parse.urlsplit(url)
        signed = target.path + (f"?{target.query}" if target.query else "")
        date, kind = formatdate(usegmt=True), "application/json"
        signature = sign(self.private, text_to_sign("PUT", "", kind, date, signed))
        headers = {"Content-Type": kind, "Date": date, "Accept": "application/json",
                   "Authorization": f"CYTOMINE {self.public}:{signature}"}  # fmt: skip
        data = json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s):
                return True
        except OSError as exc:  # URLError and HTTPError included
            log.warning("core callback %s %s failed: %s", body["id"], body["statusName"], exc)
            return False
