"""What an upload written to the S3 upload bucket by the API carries for the import function:
the upload id announced to the client, and the Cytomine context of a Cytomine upload (standard
library only: both sides import it, the API at cold start included).

On AWS, ``POST /upload`` (the upload function) writes each received file into the upload
bucket and ``POST /upload/presigned`` signs the browser's upload there; the import function
imports the object when S3 announces it. The context rides on the object itself, as S3 user
metadata (``x-amz-meta-*``: written atomically with the object, read with one HEAD, never in
a second object that S3 would announce too):

- ``cytotile-upload-id``: ``upload-<uuid>``, the id the upload is imported under (the one the
  API answered, and the core's ``UploadedFile`` names in its ``filename``);
- ``cytotile-cytomine``: URL-safe base64 of compact JSON ``{"uploadedFile": <core id>,
  "storage": 12, "projects": [34, 35], "properties": [["k1", "v1"], ...], "user": <core user
  id>, "imageServer": <core image server id>}``. Ids and the user's keys/values only: never a
  key pair (the import function signs with this server's own, from its secret).

S3 keeps at most 2 KB of user metadata per object: a context larger than that (long
keys/values) is refused before anything is written or registered.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

UPLOAD_ID = "cytotile-upload-id"
CYTOMINE = "cytotile-cytomine"
MAX_METADATA = 2048  # bytes of user metadata S3 keeps per object (names and values)
UPLOAD_ID_PATTERN = re.compile(
    r"upload-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


class ContextTooLarge(ValueError):
    """The context does not fit in S3's user metadata."""


def encode(upload_id: str, cytomine: dict[str, Any] | None = None) -> dict[str, str]:
    """The object's user metadata (names without ``x-amz-meta-``)."""
    metadata = {UPLOAD_ID: upload_id}
    if cytomine is not None:
        text = json.dumps(cytomine, separators=(",", ":"), ensure_ascii=False)
        metadata[CYTOMINE] = base64.urlsafe_b64encode(text.encode()).decode("ascii")
    size = sum(len(k) + len(v) for k, v in metadata.items())
    if size > MAX_METADATA:
        raise ContextTooLarge(
            f"the upload's Cytomine context takes {size} bytes of S3 object metadata, more than "
            f"the {MAX_METADATA} S3 keeps: use fewer or shorter keys/values"
        )
    return metadata


def decode(metadata: dict[str, str] | None) -> tuple[str | None, dict[str, Any] | None]:
    """(upload id, Cytomine context) from an object's user metadata; (None, None) for an object
    the API did not write (a well-formed context only: anything else is ignored)."""
    found = {k.lower(): v for k, v in (metadata or {}).items()}
    upload_id = found.get(UPLOAD_ID)
    if upload_id is None or not UPLOAD_ID_PATTERN.fullmatch(upload_id):
        return None, None
    raw = found.get(CYTOMINE)
    if raw is None:
        return upload_id, None
    try:
        cytomine = json.loads(base64.urlsafe_b64decode(raw.encode("ascii")))
    except ValueError:
        return upload_id, None
    if not isinstance(cytomine, dict) or not isinstance(cytomine.get("uploadedFile"), int):
        return upload_id, None
    return upload_id, cytomine
