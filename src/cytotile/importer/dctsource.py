"""The source's own Huffman tables, kept for a small re-tiled level whose tiles all share them.

Optimal tables (:class:`~cytotile.importer.dctcoding.Tables`, counted from a sample of the
level) code level 0 5-7% smaller than a scanner's standard ones, for a count of the sample and
every AC symbol coded again. On a slide, the sample is 2% of the tiles and the bytes saved are
megabytes. On a level of at most :data:`KEEP_MAX_TILES` tiles, the sample (16 tiles at least)
is a larger share and the bytes saved are kilobytes (90 KB on CMU-1-Small-Region's 130 tiles).
When every tile of such a level is coded with one set of tables (TIFF's ``JPEGTables``, as
Aperio, libtiff and libvips write them; NDPI's header), the re-tiled level keeps them: each
block's AC code is then the source's own bits, copied (the codec's ``transcode``), and a tile
is the source's size. Tiles that carry their own tables (DICOM frames, complete streams) are
counted, as are tables a re-tiled tile could need a code they lack.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from cytotile.importer import dctcoding as dc
from cytotile.importer import huffman as hf
from cytotile.importer import jpegmarkers as jm

if TYPE_CHECKING:
    from cytotile.importer.jpeglevel import JpegLevel

#: keep the source's tables when they serve (False: always count optimal ones)
KEEP_SOURCE_TABLES = True
#: the most source tiles a level keeps its tables at: where the sample counted for optimal
#: ones (at least MIN_SAMPLE tiles) stops being SAMPLE_FRACTION of the level
KEEP_MAX_TILES = round(dc.MIN_SAMPLE / dc.SAMPLE_FRACTION)
#: DC magnitude categories of 8-bit samples: a re-tiled tile's first block of each row of
#: MCUs, and a blank block after a kept one, can take any, whatever the source's took
DC_CATEGORIES = frozenset(range(12))


def kept_tables(level: JpegLevel, first: bytes) -> dc.Tables | None:
    """The level's own Huffman tables as the re-tiled level's (``first``: tile 0's stored
    bytes), or None when they do not serve: the level has more than :data:`KEEP_MAX_TILES`
    tiles, each tile has its own tables, a DC table lacks a category, an AC table has no EOB
    (a blank block's), a component codes DC and AC with tables of other ids, or more than two
    of each class are used (baseline's, and the room level 0's ``JPEGTables`` has)."""
    if not KEEP_SOURCE_TABLES or len(level.offsets) > KEEP_MAX_TILES:
        return None
    if level.header is None and level.tables is None:
        return None
    try:
        if level.header is None and any(m == jm.DHT for m, _, _ in jm.segments(first)):
            return None  # a tile's own tables: the others' may differ
        specs, selectors = _scan_tables(level.complete(first))
    except ValueError:
        return None  # a malformed tile: the count says so
    if len(selectors) != len(level.frame.components):
        return None
    ids = [td for td, ta in selectors]
    if any(td != ta for td, ta in selectors) or len(set(ids)) > 2:
        return None
    order = list(dict.fromkeys(ids))
    tables = []
    for tid in order:
        dc_table, ac_table = specs.get((hf.DC, tid)), specs.get((hf.AC, tid))
        if dc_table is None or ac_table is None:
            return None
        if not DC_CATEGORIES.issubset(dc_table.values) or 0x00 not in ac_table.values:
            return None
        tables.append((dc_table, ac_table))
    return dc.Tables.kept(level, tuple(order.index(t) for t in ids), tables)


def _scan_tables(
    stream: bytes,
) -> tuple[dict[tuple[int, int], hf.Table], list[tuple[int, int]]]:
    """The Huffman tables in force at ``stream``'s scan ((class, id): table; a later DHT
    replaces an earlier one) and each scan component's (DC, AC) table ids; ValueError if
    malformed."""
    specs: dict[tuple[int, int], hf.Table] = {}
    selectors: list[tuple[int, int]] = []
    for marker, start, end in jm.segments(stream):
        body = stream[start + 4 : end]
        if marker == jm.DHT:
            pos = 0
            while pos < len(body):
                if pos + 17 > len(body):
                    raise ValueError("DHT segment cut short")
                bits = struct.unpack_from(">16B", body, pos + 1)
                n = sum(bits)
                if n > 256 or pos + 17 + n > len(body):
                    raise ValueError("DHT segment cut short")
                specs[(body[pos] >> 4, body[pos] & 15)] = hf.Table(
                    bits, body[pos + 17 : pos + 17 + n]
                )
                pos += 17 + n
        elif marker == jm.SOS:
            n = body[0] if body else 0
            if len(body) < 1 + 2 * n:
                raise ValueError("SOS segment cut short")
            selectors = [(body[2 + 2 * k] >> 4, body[2 + 2 * k] & 15) for k in range(n)]
    return specs, selectors
