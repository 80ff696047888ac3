"""Convert a source into the serving pyramid, streaming, in bounded memory.

Each plane is written by libvips (``tiffsave`` with a pyramid) on an image padded to a multiple of
``2 ** (n_tiers - 1)`` with copies of its edge, so that libvips's floor-halved tiers contain the
normalized tiers exactly; the tiles of the normalized grid are then repacked into one file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytotile.errors import ConversionError
from cytotile.pyramid import TILE_SIZE, ceil_div, normalized_sizes
from cytotile.tiff.layout import PyramidHeader
from cytotile.tiff.writer import write_pyramid

if TYPE_CHECKING:
    import pyvips

    from cytotile.formats.base import ImageMetadata, Source


HISTOGRAM_MAX_SIDE = 2048  # histograms are computed on the largest tier within this size


@dataclass
class ConversionResult:
    index_size: int
    n_tiers: int
    compression: str
    size: int
    histogram: dict[str, Any]


def plane_order(meta: ImageMetadata) -> list[tuple[int, int, int]]:
    """(c, z, t) of each plane, in the pyramid's plane order."""
    return [
        (c, z, t)
        for t in range(meta.duration)
        for z in range(meta.depth)
        for c in range(meta.n_concrete_channels)
    ]


def lossy(meta: ImageMetadata) -> bool:
    """8-bit RGB or grey images are served as JPEG; everything else stays lossless."""
    return meta.pixel_type == "uint8" and meta.n_concrete_channels == 1 and meta.n_samples in (1, 3)


def save_plane_pyramid(
    image: pyvips.Image, path: Path, n_tiers: int, *, jpeg: bool, quality: int
) -> None:
    factor = 1 << (n_tiers - 1)
    padded_w = ceil_div(image.width, factor) * factor
    padded_h = ceil_div(image.height, factor) * factor
    if (padded_w, padded_h) != (image.width, image.height):
        image = image.embed(0, 0, padded_w, padded_h, extend="copy")
    options: dict[str, object] = {
        "tile": True,
        "tile_width": TILE_SIZE,
        "tile_height": TILE_SIZE,
        "pyramid": n_tiers > 1,
        "bigtiff": True,
        "keep": "none",
    }
    if jpeg:
        options.update(compression="jpeg", Q=quality)
    else:
        options.update(compression="deflate", predictor="horizontal")
    try:
        image.tiffsave(str(path), **options)
    except Exception as exc:  # pyvips.Error, with the decoder's complaint
        lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
        reason = [x for x in lines if not x.startswith("unable to call")] or lines
        raise ConversionError(f"cannot decode the pixels: {' '.join(reason[-2:])}") from exc


def plane_histogram(path: Path, sizes: list[tuple[int, int]]) -> tuple[int, list[dict[str, Any]]]:
    """Per-band min, max and 256-bin histogram of one plane, from a tier small enough to read."""
    import numpy as np
    import pyvips

    level = next(
        (k for k, (w, h) in enumerate(sizes) if max(w, h) <= HISTOGRAM_MAX_SIDE), len(sizes) - 1
    )
    width, height = sizes[level]
    image = pyvips.Image.tiffload(str(path), page=level).crop(0, 0, width, height)
    bands = []
    for b in range(image.bands):
        band = image[b]
        counts = band.hist_find().numpy().reshape(-1)
        if counts.size > 256:  # 16-bit: fold into 256 bins over the full range
            counts = np.pad(counts, (0, 65536 - counts.size)).reshape(256, -1).sum(axis=1)
        bands.append({"min": int(band.min()), "max": int(band.max()), "bins": counts.tolist()})
    return level, bands


def convert(
    source: Source, out_path: Path, *, quality: int = 93, workdir: Path | None = None
) -> ConversionResult:
    meta = source.metadata
    sizes = normalized_sizes(meta.width, meta.height)
    jpeg = lossy(meta)
    header = PyramidHeader(
        width=meta.width,
        height=meta.height,
        n_tiers=len(sizes),
        n_concrete_channels=meta.n_concrete_channels,
        depth=meta.depth,
        duration=meta.duration,
        n_samples=meta.n_samples,
        pixel_type=meta.pixel_type,
    )
    with tempfile.TemporaryDirectory(prefix="cytotile-conv-", dir=workdir) as tmp:
        plane_paths = []
        planes: list[dict[str, Any]] = []
        for n, (c, z, t) in enumerate(plane_order(meta)):
            image = source.plane(c, z, t)
            if (image.width, image.height) != (meta.width, meta.height):
                raise ConversionError(
                    f"plane {(c, z, t)} is {image.width}x{image.height}, "
                    f"expected {meta.width}x{meta.height}"
                )
            path = Path(tmp, f"plane-{n}.tif")
            save_plane_pyramid(image, path, len(sizes), jpeg=jpeg, quality=quality)
            plane_paths.append(path)
            level, bands = plane_histogram(path, sizes)
            planes.append({"c": c, "z": z, "t": t, "level": level, "channels": bands})
        header.extra["stats"] = channel_stats(planes, meta.n_samples)
        index_size = write_pyramid(out_path, plane_paths, header, sizes, quality)
    return ConversionResult(
        index_size=index_size,
        n_tiers=len(sizes),
        compression="jpeg" if jpeg else "deflate",
        size=out_path.stat().st_size,
        histogram={"n_bins": 256, "planes": planes},
    )


def channel_stats(planes: list[dict[str, Any]], n_samples: int) -> list[list[int]]:
    """[min, max] of every channel (index ``c * n_samples + sample``) over all its planes."""
    stats: dict[int, list[int]] = {}
    for plane in planes:
        for sample, band in enumerate(plane["channels"]):
            index = plane["c"] * n_samples + sample
            lo, hi = stats.get(index, [band["min"], band["max"]])
            stats[index] = [min(lo, band["min"]), max(hi, band["max"])]
    return [stats[i] for i in sorted(stats)]
