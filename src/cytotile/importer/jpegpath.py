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
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from cytotile.importer import coefhalf
from cytotile.importer.coefhalf import HalfRows
from cytotile.importer.crew import Crew
from cytotile.importer.histograms import bands_of
from cytotile.importer.levelone import COMPLETE_PIXELS, count_half, half_strips
from cytotile.importer.lower import FeedThread, TierBuilder, builders
from cytotile.importer.retile import JpegLevel, NotRetilable, retile, workers
from cytotile.importer.sourcetiles import halve_tiles, image_parts, source_rows
from cytotile.tiff import layout as L
from cytotile.tiff.writer import Tile, _Ifd, jpeg_ifd, write_ifds

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


#: a level whose source tiles hold at most this many bytes keeps the pyramid's tiles in memory
#: until they are written (about its size and a third): no spool file for a small slide
MEMORY_TILES_BYTES = 48 * 1024 * 1024


class _Spool(contextlib.ExitStack):
    """Where the tiles wait for the pyramid's index: in a temporary file under ``workdir``
    (the tiles as (fd, offset, count)), or, for a small level, in memory (their bytes)."""

    def __init__(self, workdir: Path | None, in_memory: bool) -> None:
        super().__init__()
        self.workdir, self.file, self.fd, self.pos = workdir, None, -1, 0
        if in_memory:
            return
        try:
            tmp = self.enter_context(
                tempfile.TemporaryDirectory(prefix="cytotile-jpeg-", dir=workdir)
            )
            self.workdir = Path(tmp)
            spool = Path(tmp, "tiles.bin").open("wb")  # noqa: SIM115 - closed by the stack
            self.file = self.enter_context(spool)
            self.fd = os.open(self.file.name, os.O_RDONLY)
            self.callback(os.close, self.fd)
        except BaseException:
            self.close()
            raise

    def put(self, data: bytes) -> Tile:
        if self.file is None:
            return data
        self.file.write(data)
        self.pos += len(data)
        return (self.fd, self.pos - len(data), len(data))

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()


def write_jpeg_pyramid(
    level: JpegLevel,
    out_path: Path,
    header: L.PyramidHeader,
    sizes: list[tuple[int, int]],
    quality: int,
    workdir: Path | None = None,
    reserve: int = 0,
) -> tuple[int, tuple[list[dict[str, Any]], str]]:
    """Write the single-plane pyramid of ``level``; returns the index size and the level's
    histogram: per band (as :func:`~cytotile.importer.histograms.plane_histogram`), and its
    PIMS type (``COMPLETE`` or ``FAST``: :func:`_lower`).

    Raises :class:`~cytotile.importer.retile.NotRetilable` (nothing written) when a tile turns
    out not to qualify."""
    n_samples = len(level.frame.components)
    grey = n_samples == 1
    y_sampling = level.frame.components[0][1:3]
    lower_q = lower_quality(level, quality)
    lock = threading.Lock()
    in_memory = sum(level.byte_counts) <= MEMORY_TILES_BYTES
    with _Spool(workdir, in_memory) as spool, Crew(min(1, workers() - 1)) as crew:
        tiles: dict[int, list[Tile]] = {k: [] for k in range(len(sizes))}
        edges: dict[int, list[bytes]] = {k: [] for k in range(len(sizes))}

        def sink(lvl: int, tx: int, ty: int, data: bytes, exact: bytes | None) -> None:
            with lock:  # level 0 and the lower tiers come from two threads
                tiles[lvl].append(spool.put(data))
                if exact is not None:
                    edges[lvl].append(exact)

        chain = builders(sizes, lower_q, sink, crew)  # the crew: the lower tiers' thread's
        found: list[Any] = []
        halves = coefhalf.for_level(level, COMPLETE_PIXELS)
        args = (level, chain, found, halves)
        lower = threading.Thread(target=_lower, args=args, daemon=True)
        lower.start()
        shared: bytes | None = None  # level 0's JPEGTables: DQT (+ DHT, C codec)
        level0 = retile(level, spool.workdir, halves=halves)  # closed after the stop below
        try:
            for tile in level0:
                if shared is None:
                    shared = tile.tables
                elif tile.tables != shared:
                    raise NotRetilable("the re-tiled tiles have other tables")
                sink(0, tile.tx, tile.ty, tile.data, tile.exact)
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
        spool.flush()
        photometric = 1 if grey else 6
        l0 = jpeg_ifd(0, sizes[0], n_samples, level.photometric, shared, y_sampling)
        ifds: list[_Ifd] = [l0]
        for k in range(1, len(sizes)):
            ifds.append(jpeg_ifd(k, sizes[k], n_samples, photometric, chain[k].tables))
        for k, ifd in enumerate(ifds):
            ifd.tiles, ifd.edges = tiles[k], edges[k]
        return write_ifds(out_path, ifds, header, reserve), found[0]
