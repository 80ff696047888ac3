"""Level 0 re-tiled through the C coefficient codec (``_jpegdct``): tables per level, not per tile.

Each thread takes a band of output rows. The source tiles an output row spans are entropy-decoded
straight into per-component coefficient planes of the whole width (numpy ``int16``, blocks in
natural order; zeros beyond the source's grid), a few source rows deep: when the next output
row starts, the rows decoded below its top move up (less than a source row) and the next ones
are decoded below them. Each 256x256 output tile is entropy-coded from a strided view of the
planes: no block is copied in Python.

The level's tables and its decoding are :class:`~cytotile.importer.dctlevel.Coding`'s. A tile
is SOF, SOS and the scan (after an Adobe
marker when the components are R, G, B); an exact-size edge tile is a complete stream, tables
included.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from cytotile.importer.crew import Crew
from cytotile.importer.dctlevel import Coding, codec
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.retile import RetiledTile

__all__ = ["Coding", "band", "blank_padding", "codec", "spanned"]


def spanned(tile_height: int) -> int:
    """Source rows (``tile_height`` pixels) an output row can span at most: it starts on a
    multiple of 256, at most ``tile_height - gcd`` into a source row (2 rows of 240 pixels, not
    3; 1 of 256 or 512)."""
    import math

    start = tile_height - math.gcd(TILE_SIZE, tile_height)
    return ceil_div(start + TILE_SIZE, tile_height)


def _views(
    coding: Coding, planes: tuple[np.ndarray, ...], plane_y: int, size: tuple[int, int], n: int
) -> list[tuple[np.ndarray, ...]]:
    """Views of the planes, from pixel row ``plane_y``: ``n`` regions of ``size`` pixels
    (width, height), side by side."""
    width, height = size
    return [
        tuple(
            p[plane_y // bh : (plane_y + height) // bh, x * width // bw : (x + 1) * width // bw]
            for p, (bw, bh) in zip(planes, coding.block, strict=True)
        )
        for x in range(n)
    ]


def blank_padding(
    planes: Sequence[np.ndarray],
    blocks: Sequence[tuple[int, int]],
    mcu: tuple[int, int],
    width: int,
    height: int,
) -> None:
    """Zero the blocks of an edge tile's coefficient ``planes`` (each component's, its blocks
    covering ``blocks`` pixels) at least one MCU beyond the image's ``width`` x ``height`` pixels
    in it. They held the source's own padding, whose texture costs bits in the padded tile; the
    MCU the edge cuts and the next one stay, so that a decoder's chroma upsampling of the pixels
    inside is untouched."""
    keep_x = (ceil_div(width, mcu[0]) + 1) * mcu[0]
    keep_y = (ceil_div(height, mcu[1]) + 1) * mcu[1]
    for p, (bw, bh) in zip(planes, blocks, strict=True):
        p[:, keep_x // bw :] = 0
        p[keep_y // bh :] = 0


def band(coding: Coding, rows: range, helpers: int = 0) -> Iterator[RetiledTile]:
    """The tiles of output rows ``rows``, a row at a time, decoding the source rows they span
    once each; each row's steps shared with ``helpers`` threads
    (:class:`~cytotile.importer.crew.Crew`)."""
    with Crew(helpers) as crew:
        yield from _band(coding, rows, crew)


def _band(coding: Coding, rows: range, crew: Crew) -> Iterator[RetiledTile]:
    level = coding.level
    tile_h = level.tile_height
    n_x = ceil_div(level.width, TILE_SIZE)
    depth = spanned(tile_h)
    planes = coding.planes(max(n_x * TILE_SIZE, level.n_tx * level.tile_width), depth * tile_h)
    source = (level.tile_width, tile_h)
    sources: dict[int, list[tuple[np.ndarray, ...]]] = {}  # by pixel row in the planes
    tiles: dict[int, list[tuple[np.ndarray, ...]]] = {}
    l0_top, todo = -1, -1  # the level's pixel row of the planes' first row; next source row
    for ty in rows:
        l0_y = ty * TILE_SIZE
        last = min(level.n_ty, ceil_div(l0_y + TILE_SIZE, tile_h))  # source rows < last needed
        if todo < 0:
            todo = l0_y // tile_h
            l0_top = todo * tile_h
        else:  # the rows decoded below l0_y move to the top (less than a source row)
            kept = todo * tile_h - l0_y
            for p, (_, bh) in zip(planes, coding.block, strict=True):
                p[: kept // bh] = p[(l0_y - l0_top) // bh : (l0_y - l0_top + kept) // bh]
            l0_top = l0_y
        if last == level.n_ty:  # past the source's grid: zeros
            for p, (_, bh) in zip(planes, coding.block, strict=True):
                p[(last * tile_h - l0_top) // bh :] = 0
        for sy in range(todo, last):
            y = sy * tile_h - l0_top
            if y not in sources:
                sources[y] = _views(coding, planes, y, source, level.n_tx)
            coding.decode_row(sy, sources[y], crew)
            if coding.halves is not None and sy * tile_h >= rows.start * TILE_SIZE:  # band's own
                coding.halves.put(sy, planes, y, coding, crew)
        todo = last
        if l0_y - l0_top not in tiles:
            tiles[l0_y - l0_top] = _views(coding, planes, l0_y - l0_top, (TILE_SIZE,) * 2, n_x)
        yield from _encode_row(coding, ty, tiles[l0_y - l0_top], crew)


def _encode_row(
    coding: Coding, ty: int, row: list[tuple[np.ndarray, ...]], crew: Crew
) -> list[RetiledTile]:
    """The tiles of output row ``ty`` from their coefficients' views ``row``, shared by the
    ``crew``; the first waits for the level's tables (counted meanwhile: Coding.count)."""
    from cytotile.importer.retile import NotRetilable, RetiledTile

    level, lib, prefix = coding.level, coding.lib, coding.prefix
    huffman, shared = coding.huffman, coding.tables
    choice = huffman.choose(ty)
    full_mcus = (TILE_SIZE // coding.mcu[0], TILE_SIZE // coding.mcu[1])
    height = min(TILE_SIZE, level.height - ty * TILE_SIZE)
    out: list[RetiledTile | None] = [None] * len(row)

    def code(part: range) -> None:
        for tx in part:
            which, views = choice[tx], row[tx]
            width = min(TILE_SIZE, level.width - tx * TILE_SIZE)
            if (width, height) != (TILE_SIZE, TILE_SIZE):  # those blocks are not read again
                blank_padding(views, coding.block, coding.mcu, width, height)
            try:
                arrays = huffman.arrays[which]
                exact = None
                if (width, height) == (TILE_SIZE, TILE_SIZE):
                    scan = lib.encode(views, coding.sampling, full_mcus, arrays)
                else:  # the exact-size tile's blocks coded once for both scans
                    mcus = (ceil_div(width, coding.mcu[0]), ceil_div(height, coding.mcu[1]))
                    scan, part_scan = lib.encode_edge(
                        views, coding.sampling, full_mcus, mcus, arrays
                    )
                    exact = (
                        b"\xff\xd8" + prefix + shared[2:-2]
                        + coding.header(which, width, height) + part_scan + b"\xff\xd9"
                    )  # fmt: skip
            except ValueError as exc:
                raise NotRetilable(f"re-tiled coefficients: {exc}") from exc
            head = coding.heads[which]
            data = b"".join((b"\xff\xd8", prefix, head, scan, b"\xff\xd9"))
            out[tx] = RetiledTile(tx, ty, shared, data, exact)

    crew.run(code, len(row))
    return [tile for tile in out if tile is not None]
