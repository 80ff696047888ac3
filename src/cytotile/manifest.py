"""``upload-<uuid>/manifest.json``: what an upload is, where its files are, and its status history.

Storage layout (same keys locally and on S3)::

    upload-<uuid>/<original name>                   UPLOAD (or a reference to where it was uploaded)
    upload-<uuid>/processed/original.<FORMAT>       ORIGINAL (recorded here; no symbolic links)
    upload-<uuid>/processed/visualisation.PYRTIFF   SPATIAL: the serving pyramid
    upload-<uuid>/processed/histogram               HISTOGRAM (JSON)
    upload-<uuid>/processed/associated/<name>.png   label, macro, thumb
    upload-<uuid>/extracted/<member path>           an archive's members (kept)
    upload-<uuid>/manifest.json                     this
    upload-<uuid>/cytomine-core.json                its records in a Cytomine core (core_state)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cytotile.errors import ImageNotFound, NotFound
from cytotile.storage.base import Storage, safe_key

MANIFEST_VERSION = 1
PYRAMID_NAME = "processed/visualisation.PYRTIFF"
HISTOGRAM_NAME = "processed/histogram"


class Status(StrEnum):
    UPLOADED = "UPLOADED"
    DETECTING_FORMAT = "DETECTING_FORMAT"
    EXTRACTING_DATA = "EXTRACTING_DATA"
    CONVERTING = "CONVERTING"
    DEPLOYING = "DEPLOYING"
    DEPLOYED = "DEPLOYED"
    CONVERTED = "CONVERTED"
    EXTRACTED = "EXTRACTED"
    ERROR_FORMAT = "ERROR_FORMAT"
    ERROR_EXTRACTION = "ERROR_EXTRACTION"
    ERROR_CONVERSION = "ERROR_CONVERSION"
    ERROR_DEPLOYMENT = "ERROR_DEPLOYMENT"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_error(self) -> bool:
        return self.value.startswith("ERROR_")


FINAL_STATUSES = {
    Status.DEPLOYED,
    Status.CONVERTED,
    Status.EXTRACTED,
    Status.ERROR_FORMAT,
    Status.ERROR_EXTRACTION,
    Status.ERROR_CONVERSION,
    Status.ERROR_DEPLOYMENT,
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def upload_id_of(path: str) -> str:
    """The ``upload-<id>`` folder a request path points into (any path inside it is accepted)."""
    key = safe_key(path)
    head = key.split("/", 1)[0]
    if not head.startswith("upload-") or len(head) <= len("upload-"):
        raise ImageNotFound(f"no image at {path!r}: not inside an upload-<id> folder")
    return head


def pyramid_key(upload_id: str) -> str:
    return f"{upload_id}/{PYRAMID_NAME}"


@dataclass
class FileEntry:
    role: str  # UPLOAD | ORIGINAL | SPATIAL | HISTOGRAM | NONE
    key: str  # storage key, or s3://bucket/key for a reference outside the root
    size: int | None = None
    format_id: str | None = None
    is_reference: bool = False  # plays its role through another key (PIMS's symbolic link)


@dataclass
class Manifest:
    id: str
    original_name: str
    status: Status = Status.UPLOADED
    reason: str | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    size: int | None = None
    format_id: str | None = None
    image: dict[str, Any] | None = None  # ImageMetadata.to_dict()
    pyramid: dict[str, Any] | None = None  # n_tiers, tiers, compression, quality, index_size
    files: list[FileEntry] = field(default_factory=list)
    associated: dict[str, str] = field(default_factory=dict)  # name -> key
    history: list[dict[str, Any]] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # where the upload came from
    #: archives (cytotile.importer.archives_collection): the archive an upload was extracted
    #: from; an archive's children ({"id", "name", "path", "status"}, the status as last
    #: recorded: listings read the child's own); what was extracted and what was skipped
    parent: str | None = None
    children: list[dict[str, Any]] = field(default_factory=list)
    archive: dict[str, Any] | None = None
    version: int = MANIFEST_VERSION

    def key(self) -> str:
        return f"{self.id}/manifest.json"

    def file(self, role: str) -> FileEntry | None:
        return next((f for f in self.files if f.role == role), None)

    def to_json(self) -> str:
        data = asdict(self)
        data["status"] = self.status.value
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        data = json.loads(text)
        data["status"] = Status(data["status"])
        data["files"] = [FileEntry(**f) for f in data.get("files", [])]
        return cls(**data)

    def save(self, storage: Storage) -> None:
        self.updated_at = now()
        storage.write_bytes(self.key(), self.to_json().encode(), "application/json")

    @classmethod
    def load(cls, storage: Storage, upload_id: str) -> Manifest:
        try:
            return cls.from_json(storage.read(f"{upload_id}/manifest.json"))
        except NotFound as exc:
            raise ImageNotFound(f"no image at {upload_id!r}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ImageNotFound(f"the manifest of {upload_id!r} is unreadable") from exc
