"""Level 0 re-tiled through the C coefficient codec (``_jpegdct``): tables per level, not per tile.

Each band of output rows (:mod:`cytotile.importer.dctsteps`: its steps, run by the codec's
worker threads) transcodes the source tiles an output row spans a row at a time, each tile
entropy-decoded into its thread's coefficient planes of one source tile (numpy ``int16``,
blocks in natural order), which the tile's level 1 is made from in the same call
(:mod:`cytotile.importer.coefhalf`), and each block's AC symbols coded at once with the level's
Huffman tables, kept as its bit string beside its DC value (a store a source tile); when the
level keeps the source's own tables (:mod:`cytotile.importer.dctsource`), the store is the
tile's scan itself, unstuffed, each block's AC bits found in it, not coded again. Each 256x256
output tile is then assembled from the stores of the source tiles it covers (``assemble``):
their blocks' bit strings copied, only the DC differences coded again. A block is coded once
however many output tiles the source tile feeds, and no plane is kept for the output rows.

The level's tables and its decoding are :class:`~cytotile.importer.dctlevel.Coding`'s. A tile
is SOI, SOF, SOS, the scan and EOI (an Adobe marker after SOI when the components are R, G, B),
made whole by ``assemble``; an exact-size edge tile is a complete stream, tables included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from cytotile.importer.dctlevel import Coding, Store, codec, job_result
from cytotile.pyramid import TILE_SIZE, ceil_div

if TYPE_CHECKING:
    import numpy as np

    from cytotile.importer.retile import JpegLevel, RetiledTile

__all__ = ["Coding", "assembly", "blank_padding", "codec", "kept", "needed", "spanned"]


def spanned(tile_height: int) -> int:
    """Source rows (``tile_height`` pixels) an output row can span at most: it starts on a
    multiple of 256, at most ``tile_height - gcd`` into a source row (2 rows of 240 pixels, not
    3; 1 of 256 or 512)."""
    import math

    start = tile_height - math.gcd(TILE_SIZE, tile_height)
    return ceil_div(start + TILE_SIZE, tile_height)


def blank_padding(
    planes: Sequence[np.ndarray],
    blocks: Sequence[tuple[int, int]],
    mcu: tuple[int, int],
    width: int,
    height: int,
) -> None:
    """Zero the blocks of an edge tile's coefficient ``planes`` (each component's, its blocks
    covering ``blocks`` pixels) at least one MCU beyond the image's ``width`` x ``height`` pixels
    in it (:func:`kept`): the jpeglib path's."""
    keep_x, keep_y = (k * m for k, m in zip(kept(mcu, width, height), mcu, strict=True))
    for p, (bw, bh) in zip(planes, blocks, strict=True):
        p[:, keep_x // bw :] = 0
        p[keep_y // bh :] = 0


def kept(mcu: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    """MCUs (across, down) of an edge tile whose blocks keep the source's coefficients, the
    image's ``width`` x ``height`` pixels in it: the MCU the edge cuts and the next one, so that
    a decoder's chroma upsampling of the pixels inside is untouched. Beyond, the blocks are
    blank (zero coefficients): they held the source's own padding, whose texture costs bits."""
    return ceil_div(width, mcu[0]) + 1, ceil_div(height, mcu[1]) + 1


def needed(level: JpegLevel, ty: int) -> tuple[int, int]:
    """The source rows output row ``ty`` spans: ``range(*needed(level, ty))``."""
    l0_y = ty * TILE_SIZE
    last = min(level.n_ty, ceil_div(l0_y + TILE_SIZE, level.tile_height))
    return l0_y // level.tile_height, last


def assembly(
    coding: Coding, ty: int, stores: dict[int, list[Store]]
) -> Callable[[Any], Callable[[list[Any]], list[RetiledTile]]]:
    """What opens the assembly of output row ``ty``'s tiles from the source rows' ``stores``
    in a codec step (``step_assemble``: an edge tile's exact-size one beside it) and returns
    what makes the row's tiles of the step's results."""
    from cytotile.importer.retile import NotRetilable, RetiledTile

    level, lib, prefix = coding.level, coding.lib, coding.prefix
    huffman, shared = coding.huffman, coding.tables
    tables = huffman.prepared
    heads = [b"\xff\xd8" + prefix + head for head in coding.heads]  # a 256x256 tile's, each set
    choice = huffman.choose(ty)
    tile_w, tile_h = level.tile_width, level.tile_height
    mcu_w, mcu_h = coding.mcu
    full = (TILE_SIZE // mcu_w, TILE_SIZE // mcu_h)
    source_mcus = (tile_w // mcu_w, tile_h // mcu_h)
    l0_y = ty * TILE_SIZE
    height = min(TILE_SIZE, level.height - l0_y)
    sy0, sy1 = l0_y // tile_h, (l0_y + TILE_SIZE - 1) // tile_h
    n_x = ceil_div(level.width, TILE_SIZE)

    def open_row(step: Any) -> Callable[[list[Any]], list[RetiledTile]]:
        rows = [stores.get(sy) for sy in range(sy0, sy1 + 1)]  # None: past the source's grid
        jobs: list[tuple[int, int | None]] = []  # each tile's: (padded, exact-size)
        for tx in range(n_x):
            which, l0_x = choice[tx], tx * TILE_SIZE
            sx0, sx1 = l0_x // tile_w, (l0_x + TILE_SIZE - 1) // tile_w
            sources = tuple(
                row[sx] if row is not None and sx < level.n_tx else None
                for row in rows
                for sx in range(sx0, sx1 + 1)
            )
            grid = (sx1 - sx0 + 1, len(rows))
            origin = ((l0_x - sx0 * tile_w) // mcu_w, (l0_y - sy0 * tile_h) // mcu_h)
            width = min(TILE_SIZE, level.width - l0_x)
            at = (step, sources, grid, origin, source_mcus, coding.sampling)
            try:  # each a whole stream (SOI, its headers, the scan, EOI), coded at once
                if (width, height) == (TILE_SIZE, TILE_SIZE):
                    jobs.append(
                        (lib.step_assemble(*at, full, full, tables, which, heads[which]), None)
                    )
                    continue
                # blank beyond the MCU the edge cuts and the next (kept); exact-size too
                keep = kept(coding.mcu, width, height)
                padded = lib.step_assemble(*at, full, keep, tables, which, heads[which])
                mcus = (ceil_div(width, mcu_w), ceil_div(height, mcu_h))
                head = b"\xff\xd8" + prefix + shared[2:-2] + coding.header(which, width, height)
                jobs.append((padded, lib.step_assemble(*at, mcus, keep, tables, which, head)))
            except ValueError as exc:
                raise NotRetilable(f"re-tiled coefficients: {exc}") from exc

        def tiles(results: list[Any]) -> list[RetiledTile]:
            made = []
            for tx, (padded, exact) in enumerate(jobs):
                data = job_result(results[padded], "re-tiled coefficients")
                edge = (
                    None if exact is None else job_result(results[exact], "re-tiled coefficients")
                )
                made.append(RetiledTile(tx, ty, shared, data, edge))
            return made

        return tiles

    return open_row
