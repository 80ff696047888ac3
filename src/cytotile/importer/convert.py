"""Convert a source into the serving pyramid, streaming, in bounded memory.

Each plane is written by libvips (``tiffsave`` with a pyramid) on an image padded to a multiple of
``2 ** (n_tiers - 1)`` with copies of its edge, so that libvips's floor-halved tiers contain the
normalized tiers exactly; the tiles of the normalized grid are then repacked into one file.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytotile.errors import ConversionError
from cytotile.formats.common import decoding
from cytotile.importer.histograms import histogram_file, plane_histogram, wide_histograms
from cytotile.importer.jpegpath import write_jpeg_pyramid
from cytotile.importer.retile import JpegLevel, NotRetilable, probe
from cytotile.pipeline.params import SIGNED_OFFSET
from cytotile.pyramid import TILE_SIZE, ceil_div, normalized_sizes
from cytotile.tiff.layout import PyramidHeader
from cytotile.tiff.writer import write_pyramid

if TYPE_CHECKING:
    import pyvips

    from cytotile.formats.base import ImageMetadata, Source


log = logging.getLogger(__name__)


@dataclass
class ConversionResult:
    index_size: int
    n_tiers: int
    compression: str
    size: int
    histogram: dict[str, Any]
    method: str = "libvips"  # or "dct-retile": level 0 re-tiled from the source's coefficients


def plane_order(meta: ImageMetadata) -> list[tuple[int, int, int]]:
    """(c, z, t) of each plane, in the pyramid's plane order."""
    return [
        (c, z, t)
        for t in range(meta.duration)
        for z in range(meta.depth)
        for c in range(meta.n_concrete_channels)
    ]


#: lossless planes are stored uncompressed when deflate does not reach this ratio on the first
#: plane: noisy 16-bit samples barely compress (1.2x) and inflating them dominated the cost of
#: a composite tile (bench/planes.py)
MIN_DEFLATE_RATIO = 1.5


def deflate_ratio(path: Path, image: pyvips.Image) -> float:
    """Raw bytes of the plane's pyramid (4/3 of level 0) over the bytes libvips wrote."""
    sample = {"uchar": 1, "ushort": 2}.get(image.format, 4)
    raw = int(image.width) * int(image.height) * int(image.bands) * sample * 4 / 3
    return float(raw / max(path.stat().st_size, 1))


def lossy(meta: ImageMetadata) -> bool:
    """8-bit RGB or grey 2-D images are served as JPEG; everything else stays lossless: more
    bits, several channels, and Z or T stacks (microscopy's measurements: a tile of a plane
    equals the file's plane)."""
    single = meta.n_concrete_channels == 1 and meta.depth == 1 and meta.duration == 1
    return meta.pixel_type == "uint8" and single and meta.n_samples in (1, 3)


#: images of at most this many pixels (whose whole pyramid is a few dozen tiles) are stored at
#: SMALL_IMAGE_QUALITY or more, where libvips no longer subsamples chroma: their size does not
#: matter, and 4:2:0 halves the chroma of every sharp edge (docs/quality.md)
SMALL_IMAGE_PIXELS = 4_000_000
SMALL_IMAGE_QUALITY = 95


def overview_level(sizes: list[tuple[int, int]]) -> int:
    """The first tier of at most SMALL_IMAGE_PIXELS: it and the tiers below are stored at
    SMALL_IMAGE_QUALITY or more (thumbnails and overviews are read from them)."""
    return next(k for k, (w, h) in enumerate(sizes) if w * h <= SMALL_IMAGE_PIXELS)


def save_overview(
    image: pyvips.Image, path: Path, sizes: list[tuple[int, int]], level: int, quality: int
) -> None:
    """The pyramid of tiers ``level``.. of ``image`` (level 0), one generation: the image padded
    as :func:`save_plane_pyramid` pads it, box-averaged by ``2 ** level``, encoded 4:4:4."""
    factor = 1 << (len(sizes) - 1)
    padded_w = ceil_div(image.width, factor) * factor
    padded_h = ceil_div(image.height, factor) * factor
    if (padded_w, padded_h) != (image.width, image.height):
        image = image.embed(0, 0, padded_w, padded_h, extend="copy")
    image = image.shrink(1 << level, 1 << level)
    n_tiers = len(sizes) - level
    save_plane_pyramid(image, path, n_tiers, jpeg=True, quality=max(quality, SMALL_IMAGE_QUALITY))


def save_plane_pyramid(
    image: pyvips.Image,
    path: Path,
    n_tiers: int,
    *,
    jpeg: bool,
    quality: int,
    deflate: bool = True,
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
    if jpeg:  # libvips writes YCbCr 4:2:0 below quality 90, no subsampling from 90 up
        options.update(compression="jpeg", Q=quality)
    elif deflate:  # lossless; floats without a predictor (differencing their bits gains little)
        predictor = "none" if image.format == "float" else "horizontal"
        options.update(compression="deflate", predictor=predictor)
    else:
        options.update(compression="none")
    try:
        image.tiffsave(str(path), **options)
    except Exception as exc:  # pyvips.Error, with the decoder's complaint
        lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
        reason = [x for x in lines if not x.startswith("unable to call")] or lines
        raise ConversionError(f"cannot decode the pixels: {' '.join(reason[-2:])}") from exc


def jpeg_level(source: Source, meta: ImageMetadata) -> JpegLevel | None:
    """The source's level 0 when it can be re-tiled in the DCT domain, else None (and why):
    a TIFF page's JPEG tiles (or NDPI's restart intervals), or a DICOM instance's frames."""
    if not lossy(meta) or meta.n_planes != 1:
        return None
    try:
        if source.tiff_page is not None:
            level = probe(*source.tiff_page)
        elif source.dicom_level0 is not None:
            from cytotile.importer.dicomframes import probe_dicom

            level = probe_dicom(source.dicom_level0)
        else:
            return None
        if (level.width, level.height) != (meta.width, meta.height):
            raise NotRetilable(f"{level.width}x{level.height} is not the image's size")
        return level
    except NotRetilable as exc:
        log.info("re-encode path for %s: %s", source.metadata.format_id, exc)
        return None


def convert_jpeg_tiled(
    source: Source,
    out_path: Path,
    header: PyramidHeader,
    sizes: list[tuple[int, int]],
    quality: int,
    workdir: Path | None,
) -> ConversionResult | None:
    """The pyramid of a JPEG-tiled source whose level 0 is re-tiled losslessly, or None when the
    source does not qualify (the caller re-encodes)."""
    meta = source.metadata
    level = jpeg_level(source, meta)
    if level is None:
        return None
    room = 16 * meta.n_samples  # for the stats, known once the tiles are written

    def with_stats(bands: list[dict[str, Any]]) -> PyramidHeader:
        final = replace(header, extra={**header.extra})
        final.extra["stats"] = channel_stats([{"c": 0, "channels": bands}], meta.n_samples)
        return final

    try:
        args = (level, out_path, header, sizes, quality, workdir, room, with_stats)
        index_size, (bands, kind) = write_jpeg_pyramid(*args)
    except NotRetilable as exc:
        log.info("re-encode path for %s: %s", level.path.name, exc)
        return None
    planes = [{"c": 0, "z": 0, "t": 0, "channels": bands}]
    return ConversionResult(
        index_size=index_size,
        n_tiers=len(sizes),
        compression="jpeg",
        size=out_path.stat().st_size,
        histogram=histogram_file(planes, meta, None, kind),
        method="dct-retile",
    )


def convert(
    source: Source, out_path: Path, *, quality: int = 85, workdir: Path | None = None
) -> ConversionResult:
    meta = source.metadata
    sizes = normalized_sizes(meta.width, meta.height)
    jpeg = lossy(meta)
    deflate = True
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
    if meta.sample_type in SIGNED_OFFSET:  # stored shifted: the serving side must know it
        header.extra["shift"] = SIGNED_OFFSET[meta.sample_type]
    retiled = convert_jpeg_tiled(source, out_path, header, sizes, quality, workdir)
    if retiled is not None:
        return retiled
    overview = overview_level(sizes) if jpeg else len(sizes)
    if overview == 0:  # a small image: every tier (docs/quality.md)
        quality = max(quality, SMALL_IMAGE_QUALITY)
    with tempfile.TemporaryDirectory(prefix="cytotile-conv-", dir=workdir) as tmp:
        plane_paths, overviews = [], []
        planes: list[dict[str, Any]] = []
        wide = meta.pixel_type in ("uint32", "float32")
        value_range: tuple[float, float] | None = None
        for n, (c, z, t) in enumerate(plane_order(meta)):
            image = source.plane(c, z, t)
            if (image.width, image.height) != (meta.width, meta.height):
                raise ConversionError(
                    f"plane {(c, z, t)} is {image.width}x{image.height}, "
                    f"expected {meta.width}x{meta.height}"
                )
            path = Path(tmp, f"plane-{n}.tif")
            save_plane_pyramid(image, path, len(sizes), jpeg=jpeg, quality=quality, deflate=deflate)
            if not jpeg and deflate and n == 0 and deflate_ratio(path, image) < MIN_DEFLATE_RATIO:
                deflate = False  # noisy samples: inflating would cost more than it saves
                image = source.plane(c, z, t)
                save_plane_pyramid(
                    image, path, len(sizes), jpeg=False, quality=quality, deflate=False
                )
            plane_paths.append(path)
            if 0 < overview < len(sizes):
                overviews.append(Path(tmp, f"overview-{n}.tif"))
                save_overview(source.plane(c, z, t), overviews[-1], sizes, overview, quality)
            if wide:  # 32-bit: bins over the image's range, known once every plane is written
                continue
            with decoding(f"plane c={c} z={z} t={t}"):
                bands = plane_histogram(source.plane(c, z, t) if jpeg else _level0(path, meta))
            planes.append({"c": c, "z": z, "t": t, "channels": bands})
        if wide:
            with decoding("image"):
                levels0 = [_level0(path, meta, "random") for path in plane_paths]
                planes, value_range = wide_histograms(plane_order(meta), levels0)
        header.extra["stats"] = channel_stats(planes, meta.n_samples)
        index_size = write_pyramid(
            out_path, plane_paths, header, sizes, quality, overviews, overview
        )
    return ConversionResult(
        index_size=index_size,
        n_tiers=len(sizes),
        compression="jpeg" if jpeg else "deflate" if deflate else "none",
        size=out_path.stat().st_size,
        histogram=histogram_file(planes, meta, value_range),
    )


def _level0(path: Path, meta: ImageMetadata, access: str = "sequential") -> pyvips.Image:
    """The plane as written (lossless): level 0 of its intermediate pyramid, unpadded."""
    import pyvips

    image = pyvips.Image.tiffload(str(path), page=0, access=access)
    return image.crop(0, 0, meta.width, meta.height)


def channel_stats(planes: list[dict[str, Any]], n_samples: int) -> list[list[float]]:
    """[min, max] of every channel (index ``c * n_samples + sample``) over all its planes."""
    stats: dict[int, list[float]] = {}
    for plane in planes:
        for sample, band in enumerate(plane["channels"]):
            index = plane["c"] * n_samples + sample
            lo, hi = stats.get(index, [band["min"], band["max"]])
            stats[index] = [min(lo, band["min"]), max(hi, band["max"])]
    return [stats[i] for i in sorted(stats)]
