"""The serving pyramid of a JPEG-tiled source: level 0 re-tiled losslessly, lower tiers once.

Level 0 is re-tiled in the DCT domain (:mod:`cytotile.importer.retile`): the source's own
coefficients, so no generation loss and about the source's size. Level 1 is made by the
re-tiling's bands from the coefficients they decode (:mod:`cytotile.importer.coefhalf`: each
block's 2x2 box means) and handed to the lower tiers' thread; without the C codec, or for
other samplings, the source's tiles are decoded once more for it, at half size by libjpeg. The
histogram is estimated from level 1 (``FAST``: :mod:`cytotile.importer.levelone`), or, for a
level of at most ``COMPLETE_PIXELS``, the tiles are decoded in full (the complete histogram,
level 1 their 2x2 mean); each further tier from the one above
(:mod:`cytotile.importer.lower`), YCbCr 4:2:0 at a quality matched to the source's (see
``docs/quality.md``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cytotile.importer import coefhalf
from cytotile.importer.coefhalf import HalfRows
from cytotile.importer.crew import Crew, Spawned
from cytotile.importer.histograms import bands_of
from cytotile.importer.levelone import COMPLETE_PIXELS, count_half, half_strips
from cytotile.importer.lower import FeedThread, TierBuilder, builders, tier_tables
from cytotile.importer.retile import CodingAhead, JpegLevel, NotRetilable, retile, workers
from cytotile.importer.sourcetiles import halve_tiles, image_parts, source_rows
from cytotile.tiff import layout as L
from cytotile.tiff.streamed import StreamedPyramid
from cytotile.tiff.writer import jpeg_ifd

#: the lower tiers' quality never goes below this, whatever the source's (docs/quality.md)
MIN_LOWER_QUALITY = 70
#: level 1 counted and the lower tiers encoded in a thread of their own, beside the decoding
SPLIT_LOWER = True


def lower_quality(level: JpegLevel, quality: int) -> int:
    """The lower tiers' quality: the source's own, within [MIN_LOWER_QUALITY, ``quality``]."""
    return max(MIN_LOWER_QUALITY, min(quality, level.quality))


def _lower(
    level: JpegLevel, chain: dict[int, TierBuilder], out: list[Any], halves: HalfRows | None = None
) -> None:
    """The lower tiers and the histogram from one decode of the source's tiles (run beside the
    re-tiling), or from the re-tiling's own decoding (``halves``); ``out`` gets the histogram
    (bands, PIMS type), or the exception."""
    import numpy as np
    import pyvips

    try:
        counts = np.zeros((256, 1 if level.photometric == 1 else 3), np.int64)
        if halves is not None:
            coefhalf.feed_tiers(level, chain[1], counts, halves)
            out.append((bands_of(counts), "FAST"))
            return
        if level.width * level.height > COMPLETE_PIXELS:  # then there is a level 1

            def consume(strip: np.ndarray, height: int) -> None:
                count_half(counts, strip, height, level.width)
                chain[1].feed(strip)

            beside = FeedThread(consume) if SPLIT_LOWER else None
            try:
                for strip, height in half_strips(level):
                    (beside.feed if beside else consume)(strip, height)
            finally:
                if beside is not None:
                    beside.close()
            out.append((bands_of(counts), "FAST"))
            return
        for tiles, height in source_rows(level):
            for part in image_parts(tiles, height, level.width):
                bands = part.shape[2]  # one tile a row of pixels: libvips is slow on narrow images
                image = pyvips.Image.new_from_memory(
                    part.data, part.shape[1], part.shape[0], bands, "uchar"
                )
                counts += image.hist_find().numpy().reshape(-1, bands)
            if 1 in chain:
                chain[1].feed(halve_tiles(tiles, height, level.width))
        out.append((bands_of(counts), "COMPLETE"))
    except BaseException as exc:  # handed to the caller's thread
        if halves is not None:
            halves.stop()
        out.append(exc)


def tables_room(level: JpegLevel) -> int:
    """The most bytes level 0's JPEGTables can take (their room in the index, reserved before
    the tables are chosen): SOI, DQT (16-bit tables at most), DHT (2 pairs of DC and AC tables
    of every baseline symbol at most: two sets of one group, or one of two), EOI."""
    n_quant = len({c[3] for c in level.frame.components})
    pair = (1 + 16 + 12) + (1 + 16 + 162)
    return 2 + (4 + 129 * n_quant) + (4 + 2 * pair) + 2


def write_jpeg_pyramid(
    level: JpegLevel,
    out_path: Path,
    header: L.PyramidHeader,
    sizes: list[tuple[int, int]],
    quality: int,
    workdir: Path | None = None,
    reserve: int = 0,
    final: Callable[[list[dict[str, Any]]], L.PyramidHeader] | None = None,
) -> tuple[int, tuple[list[dict[str, Any]], str]]:
    """Write the single-plane pyramid of ``level``; returns the index size and the level's
    histogram: per band (as :func:`~cytotile.importer.histograms.plane_histogram`), and its
    PIMS type (``COMPLETE`` or ``FAST``: :func:`_lower`). ``final(bands)``: the header the
    index gets, once the histogram is known (within ``header``'s JSON and ``reserve`` spaces).

    The tiles go straight into ``out_path`` as they are made (:class:`StreamedPyramid`: no
    spool, no copy), the index last. Raises :class:`~cytotile.importer.retile.NotRetilable`
    (nothing left written) when a tile turns out not to qualify."""
    ahead = CodingAhead.start(level)  # the tables (kept, or counted beside the set-up below)
    with ahead or contextlib.nullcontext():
        n_samples = len(level.frame.components)
        lower_q = lower_quality(level, quality)
        lower_tables = tier_tables(n_samples, lower_q)
        l0 = jpeg_ifd(
            0, sizes[0], n_samples, level.photometric, bytes(tables_room(level)),
            level.frame.components[0][1:3],
        )  # fmt: skip
        ifds = [l0] + [
            jpeg_ifd(k, sizes[k], n_samples, 1 if n_samples == 1 else 6, lower_tables)
            for k in range(1, len(sizes))
        ]
        out = StreamedPyramid(out_path, sizes, ifds, header, reserve)
        try:
            with Crew(min(1, workers() - 1)) as crew:  # the lower tiers' thread's
                chain = builders(sizes, lower_q, out.add, crew, lower_tables)
                shared, found = _write_tiles(level, chain, out, workdir, ahead)
            return out.finish({0: shared}, final(found[0]) if final else None), found
        except BaseException:
            out.abort()
            raise


def _write_tiles(
    level: JpegLevel,
    chain: dict[int, TierBuilder],
    out: StreamedPyramid,
    workdir: Path | None,
    ahead: CodingAhead | None = None,
) -> tuple[bytes, tuple[list[dict[str, Any]], str]]:
    """Every tile to ``out``: level 0 re-tiled here (its coding started ``ahead``, when given),
    the lower tiers in a thread of their own; returns level 0's JPEGTables and the histogram
    (:func:`_lower`)."""
    found: list[Any] = []
    halves = coefhalf.for_level(level, COMPLETE_PIXELS)
    lower = Spawned(_lower, level, chain, found, halves)  # its failure goes to ``found``
    shared: bytes | None = None  # level 0's JPEGTables: DQT (+ DHT, C codec)
    level0 = retile(level, workdir, halves=halves, ahead=ahead)  # closed after the stop below
    try:
        for tile in level0:
            if shared is None:
                shared = tile.tables
            elif tile.tables != shared:
                raise NotRetilable("the re-tiled tiles have other tables")
            out.add(0, tile.tx, tile.ty, tile.data, tile.exact)
        if halves is not None:
            halves.close()
    except BaseException:
        if halves is not None:  # the bands and the lower tiers wait no longer
            halves.stop()
        raise
    finally:
        lower.join()
    if isinstance(found[0], BaseException):
        raise found[0]
    assert shared is not None  # a level has a tile
    return shared, found[0]
