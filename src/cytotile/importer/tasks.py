"""The import steps that touch untrusted bytes. Each runs in an isolated child process
(:func:`cytotile.importer.sandbox.run_isolated`): payloads and results are JSON dicts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytotile.errors import ExtractionError

if TYPE_CHECKING:
    from cytotile.formats.base import Format, Source

ASSOCIATED = ("label", "macro", "thumb")


def _setup_vips() -> None:
    os.environ.setdefault("VIPS_CONCURRENCY", str(os.cpu_count() or 1))


def detect(payload: dict[str, Any]) -> dict[str, Any]:
    """An archive (checked first, by content: docs/formats.md), else the image format."""
    from cytotile.formats import detect as detect_format
    from cytotile.importer.archives import sniff_file

    archive = sniff_file(Path(payload["path"]))
    if archive is not None:
        return {"archive": archive}
    fmt = detect_format(Path(payload["path"]))
    found: dict[str, Any] = {"format_id": fmt.id, "format_name": fmt.name}
    if fmt.importable:
        found["images"] = list_images(fmt, Path(payload["path"]))
    return found


def list_images(fmt: type[Format], path: Path) -> list[str]:
    """The names of the images of a file of several (a collection), else []."""
    from cytotile.errors import FormatError, ImportFailure

    try:
        return [str(name) for name in fmt.images(path)]
    except ImportFailure:
        raise
    except Exception as exc:
        why = " ".join(str(exc).split())[:300]
        raise FormatError(f"cannot list the images of the {fmt.name} file: {why}") from exc


def open_source(payload: dict[str, Any]) -> Source:
    """The source of the payload's file: image ``series`` of a file of several, when given."""
    from cytotile.formats import format_by_id

    fmt = format_by_id(payload["format_id"])
    series = payload.get("series")
    path = Path(payload["path"])
    return fmt.open(path) if series is None else fmt.open_image(path, int(series))


def unpack(payload: dict[str, Any]) -> dict[str, Any]:
    """Extract an archive safely (:mod:`cytotile.importer.archives_extract`)."""
    from cytotile.importer.archives import Limits
    from cytotile.importer.archives_extract import unpack as unpack_archive

    return unpack_archive(
        Path(payload["path"]),
        payload["kind"],
        Path(payload["out"]),
        Limits(**payload["limits"]),
        payload["name"],
    )


def classify(payload: dict[str, Any]) -> dict[str, Any]:
    """The format of each extracted file, or why it is not an image."""
    from cytotile.errors import CytotileError
    from cytotile.formats import detect as detect_format

    root = Path(payload["root"])
    found = []
    for rel in payload["files"]:
        item: dict[str, Any] = {"path": rel}
        parts = rel.split("/")
        if "__MACOSX" in parts or parts[-1].startswith("._"):
            item["reason"] = "macOS metadata, not an image"
        else:
            try:
                fmt = detect_format(root / rel, max_pixels=payload.get("max_pixels"))
                item.update(format_id=fmt.id, multi_file=fmt.multi_file)
            except CytotileError as exc:
                item["reason"] = exc.details
            except Exception as exc:  # a checker that breaks on odd content: not an image
                item["reason"] = f"unreadable: {type(exc).__name__}: {exc}"[:300]
        found.append(item)
    return {"members": found}


def extract(payload: dict[str, Any]) -> dict[str, Any]:
    """Parse metadata and save the associated images as PNG files in ``workdir``."""
    _setup_vips()
    workdir = Path(payload["workdir"])
    associated: dict[str, str] = {}
    with open_source(payload) as source:
        meta = source.metadata
        for name in ASSOCIATED:
            try:
                image = source.associated(name)
                if image is None:
                    continue
                out = workdir / f"{name}.png"
                image.pngsave(str(out), keep="none")
            except Exception as exc:
                raise ExtractionError(f"cannot extract the {name} image: {exc}") from exc
            associated[name] = str(out)
    return {"metadata": meta.to_dict(), "associated": associated}


def convert(payload: dict[str, Any]) -> dict[str, Any]:
    from cytotile.importer.convert import convert as convert_source

    _setup_vips()
    with open_source(payload) as source:
        result = convert_source(
            source,
            Path(payload["out"]),
            quality=int(payload["quality"]),
            workdir=Path(payload["workdir"]),
        )
    return {
        "index_size": result.index_size,
        "n_tiers": result.n_tiers,
        "compression": result.compression,
        "size": result.size,
        "histogram": result.histogram,
        "method": result.method,
    }
