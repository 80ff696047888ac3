"""Sakura SVSlide: a SQLite database whose unique data table (named in
``DataManagerSQLiteConfigXPO``) holds ``++MagicBytes`` = ``SVGigaPixelImage``, a header and
the tiles (one grey JPEG per colour), with slide and scan tables for metadata."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from cytotile.formats.base import ORDER_VENDOR
from cytotile.formats.common import iso_datetime
from cytotile.formats.openslide.slide import OpenSlideFormat

SQLITE = b"SQLite format 3\x00"
MAGIC = "SVGigaPixelImage"
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %H:%M:%S")


def magic(path: Path) -> str | None:
    """The ``++MagicBytes`` of the database's unique table, read-only; None if there is none."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute("SELECT TableName FROM DataManagerSQLiteConfigXPO").fetchall()
            if len(rows) != 1 or not isinstance(rows[0][0], str):
                return None
            table = rows[0][0].replace('"', '""')
            row = db.execute(f'SELECT data FROM "{table}" WHERE id = ?', ("++MagicBytes",))
            found = row.fetchone()
    except sqlite3.Error:  # not this kind of database, or a damaged one
        return None
    if not found:
        return None
    value = found[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class SakuraFormat(OpenSlideFormat):
    id = "SVSLIDE"
    name = "Sakura SVSlide"
    order = ORDER_VENDOR + 60
    remarks = "Sakura VisionTek slides (a SQLite database of tiles), with label and overview."
    vendors = ("sakura",)

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return head.startswith(SQLITE) and magic(path) == MAGIC

    @classmethod
    def details(cls, path: Path, props: dict[str, str]) -> dict[str, Any]:
        date = props.get("sakura.Date")
        return {
            "acquired_at": iso_datetime(date, DATE_FORMATS) if date else None,
            "description": props.get("sakura.Description"),
        }
