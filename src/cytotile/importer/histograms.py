"""COMPLETE histograms of the full-resolution planes, computed at import by libvips (streaming:
bounded memory), stored as ``processed/histogram`` (see :mod:`cytotile.api.histograms`); a
JPEG-tiled source of over 4 Mpx stores a ``FAST`` one, counted from its level 1
(:mod:`cytotile.importer.levelone`).

8-bit samples: 256 bins, one per value. 16-bit: 4096 bins of 16 values. 32-bit (uint32,
float32): 4096 bins over the image's own [min, max] (``range`` in the file), so that the planes'
histograms add up. Minimum and maximum are exact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyvips

    from cytotile.formats.base import ImageMetadata

HISTOGRAM_MAX_BINS = 4096


def plane_histogram(image: pyvips.Image) -> list[dict[str, Any]]:
    """Per band: exact min and max, and the bins of an 8 or 16-bit plane (one pass)."""
    import numpy as np

    counts = image.hist_find().numpy().reshape(-1, image.bands)  # (values, bands)
    size = 256 if image.format == "uchar" else 65536
    counts = np.pad(counts, ((0, size - counts.shape[0]), (0, 0)))
    return bands_of(counts)


def bands_of(counts: Any) -> list[dict[str, Any]]:
    """Per band of ``counts`` (values, bands: 256 or 65536 values): exact min and max, bins."""
    import numpy as np

    size = counts.shape[0]
    bands = []
    for b in range(counts.shape[1]):
        found = np.flatnonzero(counts[:, b])  # exact bounds, before any folding
        lo, hi = (int(found[0]), int(found[-1])) if found.size else (0, 0)
        bins = counts[:, b]
        if size > HISTOGRAM_MAX_BINS:
            bins = bins.reshape(HISTOGRAM_MAX_BINS, -1).sum(axis=1)
        bands.append({"min": lo, "max": hi, "bins": bins.astype(int).tolist()})
    return bands


def wide_histograms(
    order: list[tuple[int, int, int]], images: list[pyvips.Image]
) -> tuple[list[dict[str, Any]], tuple[float, float]]:
    """Histograms of 32-bit planes: a first pass for each plane's bounds (``stats``), then
    4096 bins over the image's [min, max]. ``images`` are re-openable (random access)."""
    import numpy as np

    bounds = []
    for image in images:
        stats = image.stats().numpy()  # row 1 + b: band b; columns 0, 1: min, max
        bounds.append(
            [(float(stats[1 + b, 0]), float(stats[1 + b, 1])) for b in range(image.bands)]
        )
    lo = min(b[0] for plane in bounds for b in plane)
    hi = max(b[1] for plane in bounds for b in plane)
    scale = HISTOGRAM_MAX_BINS / (hi - lo) if hi > lo else 0.0
    planes = []
    for (c, z, t), image, plane_bounds in zip(order, images, bounds, strict=True):
        index = ((image.cast("double") - lo) * scale).floor()
        index = (index >= HISTOGRAM_MAX_BINS).ifthenelse(HISTOGRAM_MAX_BINS - 1, index)
        counts = index.cast("ushort").hist_find().numpy().reshape(-1, image.bands)
        counts = np.pad(counts, ((0, HISTOGRAM_MAX_BINS - counts.shape[0]), (0, 0)))
        channels = [
            {"min": b_lo, "max": b_hi, "bins": counts[:, b].astype(int).tolist()}
            for b, (b_lo, b_hi) in enumerate(plane_bounds)
        ]
        planes.append({"c": c, "z": z, "t": t, "channels": channels})
    return planes, (lo, hi)


def histogram_file(
    planes: list[dict[str, Any]],
    meta: ImageMetadata,
    value_range: tuple[float, float] | None,
    kind: str = "COMPLETE",
) -> dict[str, Any]:
    """The ``processed/histogram`` document; ``kind``: PIMS's histogram type (``COMPLETE``:
    every pixel counted; ``FAST``: estimated from fewer)."""
    doc: dict[str, Any] = {"type": kind, "planes": planes}
    if meta.pixel_type == "uint8":
        doc.update(n_bins=256, bits=8)
    elif value_range is None:
        doc.update(n_bins=HISTOGRAM_MAX_BINS, bits=16)
    else:
        doc.update(n_bins=HISTOGRAM_MAX_BINS, bits=32, range=list(value_range))
    return doc
