"""The serving pyramid of a JPEG-tiled source: level 0 re-tiled losslessly, lower tiers once.

Level 0 is re-tiled in the DCT domain (:mod:`cytotile.importer.retile`): the source's own
coefficients, so no generation loss and about the source's size. Level 1 comes from the 1/2
scaled decoding of those tiles, each further tier from the one above
(:mod:`cytotile.importer.lower`), YCbCr 4:2:0 at a quality matched to the source's (see
``docs/quality.md``). The full-resolution level is never decoded at full size.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cytotile.importer.lower import builders, half_decode
from cytotile.importer.retile import JpegLevel, retile
from cytotile.pyramid import TILE_SIZE
from cytotile.tiff import layout as L
from cytotile.tiff.writer import _Ifd, jpeg_ifd, write_ifds

if TYPE_CHECKING:
    import numpy as np

#: the lower tiers' quality never goes below this, whatever the source's (docs/quality.md)
MIN_LOWER_QUALITY = 70


def lower_quality(level: JpegLevel, quality: int) -> int:
    """The lower tiers' quality: the source's own, within [MIN_LOWER_QUALITY, ``quality``]."""
    return max(MIN_LOWER_QUALITY, min(quality, level.quality))


def write_jpeg_pyramid(
    level: JpegLevel,
    out_path: Path,
    header: L.PyramidHeader,
    sizes: list[tuple[int, int]],
    quality: int,
    workdir: Path | None = None,
    reserve: int = 0,
) -> int:
    """Write the single-plane pyramid of ``level``; returns the index size.

    Raises :class:`~cytotile.importer.retile.NotRetilable` (nothing written) when a tile turns
    out not to qualify."""
    import numpy as np

    n_samples = len(level.frame.components)
    grey = n_samples == 1
    y_sampling = level.frame.components[0][1:3]
    lower_q = lower_quality(level, quality)
    with tempfile.TemporaryDirectory(prefix="cytotile-jpeg-", dir=workdir) as tmp:
        spool_path = Path(tmp, "tiles.bin")
        with spool_path.open("wb") as spool:
            fd = os.open(spool_path, os.O_RDONLY)
            try:
                tiles: dict[int, list[tuple[int, int, int]]] = {k: [] for k in range(len(sizes))}
                edges: dict[int, list[bytes]] = {k: [] for k in range(len(sizes))}
                pos = 0

                def sink(lvl: int, tx: int, ty: int, data: bytes, exact: bytes | None) -> None:
                    nonlocal pos
                    spool.write(data)
                    tiles[lvl].append((fd, pos, len(data)))
                    pos += len(data)
                    if exact is not None:
                        edges[lvl].append(exact)

                chain = builders(sizes, lower_q, sink)
                row: list[np.ndarray] = []
                for tile in retile(level, Path(tmp)):
                    sink(0, tile.tx, tile.ty, tile.padded, tile.exact)
                    if 1 in chain:
                        w = min(TILE_SIZE, level.width - tile.tx * TILE_SIZE)
                        h = min(TILE_SIZE, level.height - tile.ty * TILE_SIZE)
                        row.append(half_decode(tile.padded, w, h, grey))
                        if len(row) * TILE_SIZE >= level.width:
                            chain[1].feed(np.concatenate(row, axis=1))
                            row = []
                spool.flush()
                photometric = 1 if grey else 6
                l0 = jpeg_ifd(0, sizes[0], n_samples, level.photometric, None, y_sampling)
                ifds: list[_Ifd] = [l0]
                for k in range(1, len(sizes)):
                    ifds.append(jpeg_ifd(k, sizes[k], n_samples, photometric, chain[k].tables))
                for k, ifd in enumerate(ifds):
                    ifd.tiles, ifd.edges = tiles[k], edges[k]
                return write_ifds(out_path, ifds, header, reserve)
            finally:
                os.close(fd)
