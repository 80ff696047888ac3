"""Settings, one class per function, read from ``CYTOTILE_*`` environment variables.

Plain dataclasses (no validation framework) keep the tile function's cold start short.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")


def from_env(cls: type[T], prefix: str = "CYTOTILE_", **overrides: Any) -> T:
    """Build ``cls`` from ``<prefix><FIELD>`` variables; ``overrides`` win over the environment."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in overrides:
            values[f.name] = overrides[f.name]
            continue
        raw = os.environ.get(prefix + f.name.upper())
        if raw is None:
            continue
        kind = hints[f.name]
        if kind in (int, "int"):
            values[f.name] = int(raw)
        elif kind in (float, "float"):
            values[f.name] = float(raw)
        elif kind in (bool, "bool"):
            values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            values[f.name] = raw
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """The tile and annotation functions, and ``cytotile serve``."""

    root: str = "./data"
    cache_max_age: int = 86400  # seconds a browser or CDN may keep an image answer
    output_jpeg_quality: int = 95  # of decoded-then-encoded JPEG answers
    max_output_pixels: int = 100_000_000  # largest window/thumb/resized answer
    cors_origins: str = "*"
    access_log: bool = True  # one line per request from ``cytotile serve`` (api/accesslog.py)
    tile_fast_path: bool = True  # passthrough tiles by a lean route (api/fastpath.py)
    upload_root: str = ""  # s3://bucket/prefix: POST /upload/presigned signs uploads there
    api_base_path: str = "/ims"  # the API is also served under it (Cytomine's PIMS path); "": no
    #: when set, DELETE and other writes need ``Authorization: Bearer <admin_token>``
    admin_token: str = ""
    #: Cytomine's HMAC keys, ``public:private,...`` (api/cytomine_auth.py); empty: not checked
    cytomine_keys: str = dataclasses.field(default="", repr=False)
    cytomine_auth_scope: str = "writes"  # writes (uploads, DELETE, exports) | all
    cytomine_auth_max_skew_s: int = 900  # a signed request's Date this far from now: 401; 0: any
    #: a Cytomine core's API root (``https://core/api``): users' keys are asked of it, and
    #: Cytomine's uploads registered in it (api/cytomine_core.py), signed with core_keys (this
    #: server's ``public:private`` at the core); empty: no core
    core_url: str = ""
    core_keys: str = dataclasses.field(default="", repr=False)
    core_image_server_url: str = ""  # this server's URL in the core's image servers (PIMS_URL)
    core_key_ttl_s: int = 300  # a user's key asked of the core is kept this long
    #: an AWS Secrets Manager secret holding core_keys / cytomine_keys (api/cytomine_secret.py)
    cytomine_secret_arn: str = ""
    #: memory one image answer may take, in MiB; 0: derived from the deployment (Lambda: the
    #: function's memory less the runtime's share; else 1024)
    request_memory_mb: int = 0
    #: thumb/resized/window answers reading or making more than this many pixels are made at
    #: most heavy_requests at once (0: half the CPUs this process may use, at least 1); tiles
    #: never wait for them
    heavy_pixels: int = 1_000_000
    heavy_requests: int = 0
    #: seconds one image answer may take: larger outputs are refused (413) or shrunk, and a
    #: heavy request that could not end in time behind the queued ones is answered 429
    request_time_s: float = 10.0
    keep_alive_s: int = 5  # an idle keep-alive connection is closed after this
    body_timeout_s: float = 30.0  # a request body that stalls this long is answered 408
    head_timeout_s: float = 10.0  # cytotile serve: a request head not complete by then: closed


@dataclasses.dataclass(frozen=True)
class ImportSettings:
    """The import function and ``cytotile import``."""

    root: str = "./data"
    jpeg_quality: int = 85  # of the serving pyramid (see docs/quality.md)
    timeout_s: int = 3600  # per isolated step (detection, extraction, conversion)
    memory_mb: int = 6144  # address-space limit of isolated steps
    max_pixels: int = 4_294_967_296
    workdir: str = ""  # scratch space; the system temp dir when empty
    webhook_url: str = ""  # optional listener: POST every import event as JSON
    #: time.time() by which every isolated step must have ended (0: none): the import function
    #: sets it from Lambda's remaining time, so a step too long ends ERROR_CONVERSION, recorded
    deadline: float = 0.0
    deadline_name: str = "the time allowed"  # in the reason: "did not finish within <name>"
    #: deliveries of an import message before the dead-letter queue (the queue's
    #: maxReceiveCount): the last one records ERROR_*; 0: unknown (never the last)
    max_receive_count: int = 0
    #: archives (cytotile.importer.archives_extract): bytes an upload may unpack to in all, per
    #: file, decompressed bytes per compressed byte, files and folders, levels of nesting
    archive_max_bytes: int = 10 * 2**30
    archive_max_member_bytes: int = 10 * 2**30
    archive_max_ratio: float = 200.0
    archive_max_members: int = 10_000
    archive_max_depth: int = 2
    #: the import function: where an archive's children are enqueued (one message each);
    #: empty: they are imported in the archive's own invocation
    import_queue_url: str = ""
    #: the import function: a Cytomine upload written by the API (its context in the object's
    #: metadata) is registered in this core (aws/cytomine.py), signed with core_keys (this
    #: server's ``public:private``) or the secret's; empty: no core
    core_url: str = ""
    core_keys: str = dataclasses.field(default="", repr=False)
    cytomine_secret_arn: str = ""
