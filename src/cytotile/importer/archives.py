"""Archives: detection by content, member names, limits, and the ids of an archive's children.

An upload is an archive when its content says so (never its name): a ZIP (local file header or
empty-archive record), a tar (the ustar magic, or a first header with a valid checksum: a block
of zeros is not a tar, whatever :func:`tarfile.is_tarfile` says), or a gzip / bzip2 / xz
stream (a tar inside, or one compressed file). The check runs before image format detection
(docs/formats.md).

Extraction (:mod:`cytotile.importer.archives_extract`) runs in the import's isolated child
process; what becomes of the extracted tree (one multi-file image, or a collection of child
uploads) is :mod:`cytotile.importer.archives_collection`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytotile.errors import ExtractionError

#: kind -> what it is, for reasons and the manifest
KINDS = {"zip": "ZIP", "tar": "tar", "gzip": "gzip", "bzip2": "bzip2", "xz": "xz"}
TAR_BLOCK = 512
#: the namespace of child upload ids (uuid5 of "<parent id>/<member path>")
CHILD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://cytotile/archive-member")
EXTRACTED = "extracted"  # upload-<id>/extracted/<member path>
_DRIVE = re.compile(r"^[A-Za-z]:")
_ODD = re.compile(r"[^\w.\- ()+,@=\[\]{}#!&']")
MAX_COMPONENT = 200
MAX_NAME = 1024


@dataclass(frozen=True)
class Limits:
    """What one archive upload may unpack to (its nested archives included)."""

    max_bytes: int  # everything written
    max_member_bytes: int  # one file
    max_ratio: float  # bytes written per compressed byte, beyond ``ratio_floor``
    max_members: int  # files and folders
    max_depth: int  # archives inside archives: levels below the upload itself
    ratio_floor: int = 1 << 20  # below this many bytes a member's ratio is not judged

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tar_header_ok(block: bytes) -> bool:
    """Whether ``block`` is a tar header with a valid checksum (signed or unsigned sums, as
    writers differ); a block of zeros is not."""
    if len(block) < TAR_BLOCK or not block.strip(b"\0"):
        return False
    field = block[148:156].replace(b"\0", b" ").strip()
    if not field or any(ch not in b"01234567" for ch in field):
        return False
    declared = int(field, 8)
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:TAR_BLOCK])
    signed = unsigned - sum(256 for b in block[:148] + block[156:TAR_BLOCK] if b > 127)
    return declared in (unsigned, signed)


def sniff_archive(head: bytes) -> str | None:
    """The archive kind of content starting with ``head`` (at least 512 bytes when there are),
    or None when it is not one."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4] in (b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"):
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[257:262] == b"ustar" or tar_header_ok(head[:TAR_BLOCK]):
        return "tar"  # by its magic (its checksum is checked on extraction) or a v7 header
    return None


def sniff_file(path: Path) -> str | None:
    with open(path, "rb") as fh:
        return sniff_archive(fh.read(TAR_BLOCK))


def member_parts(name: str) -> list[str]:
    """The path components a member is written to, sanitized. ``ExtractionError`` for a name
    that could leave the extraction folder (absolute, a drive letter, ``..``) or is unusable."""
    if len(name) > MAX_NAME:
        raise ExtractionError(f"a member name is longer than {MAX_NAME} characters")
    if any(ord(ch) < 32 for ch in name):
        raise ExtractionError(f"member {name!r}: control characters in its name")
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise ExtractionError(f"member {name!r}: absolute paths are refused")
    raw = re.split(r"[\\/]", name)
    if ".." in (p.strip() for p in raw):
        raise ExtractionError(f"member {name!r}: a path that leaves the archive ('..')")
    parts = [_component(p) for p in raw if p not in ("", ".")]
    if not parts:
        raise ExtractionError(f"member {name!r}: an empty name")
    return parts


def _component(part: str) -> str:
    clean = _ODD.sub("_", part).strip()[:MAX_COMPONENT]
    return "_" if clean in ("", ".", "..") else clean


def child_upload_id(parent_id: str, member_path: str) -> str:
    """The deterministic id of the child upload of an archive member: a retried extraction
    finds the same children (and their imports stay idempotent)."""
    return f"upload-{uuid.uuid5(CHILD_NAMESPACE, f'{parent_id}/{member_path}')}"


def extracted_key(upload_id: str, member_path: str) -> str:
    return f"{upload_id}/{EXTRACTED}/{member_path}"


def stream_name(upload_name: str, kind: str) -> str:
    """The name of the single file in a compressed stream that holds no tar, from the upload's
    name (``slide.svs.gz`` -> ``slide.svs``)."""
    suffixes = {"gzip": (".gz", ".gzip", ".z"), "bzip2": (".bz2", ".bz"), "xz": (".xz",)}
    lower = upload_name.lower()
    for suffix in suffixes.get(kind, ()):
        if lower.endswith(suffix) and len(upload_name) > len(suffix):
            return upload_name[: -len(suffix)]
    return f"{upload_name}.out"
