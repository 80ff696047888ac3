"""The histogram routes of PIMS's OpenAPI description (``histograms``, ``histograms/full``,
``histograms/c/{channels}[/z/{z}/t/{t}]``): ``detailed-histogram`` answers with bin centres, any
``n_bins`` up to 256, read from the same stored file as :mod:`cytotile.api.histograms`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cytotile.api.histograms import Band, Stored, path_indexes
from cytotile.api.info import collection
from cytotile.api.metadata import answer, image_of, load
from cytotile.pipeline.args import Args


def _detailed(stored: Stored, pool: str, bands: list[Band], n_bins: int) -> dict[str, Any]:
    """The OpenAPI description's ``detailed-histogram`` (any ``n_bins`` up to 256)."""
    bins, lo, hi = stored.merged(bands)
    hist = [0] * n_bins
    for i, count in enumerate(bins):
        hist[i * n_bins // len(bins)] += count
    start, span = (
        (stored.range[0], stored.range[1] - stored.range[0])
        if stored.range
        else (-stored.offset, 1 << stored.bits)
    )
    width = span / n_bins
    return {
        "type": stored.type,
        "pool": pool,
        "availability": "AVAILABLE" if pool == "PER_PLANE" else "ON_THE_FLY",
        "n_bins": n_bins,
        "bin_centers": [
            start + (i + 0.5) * width - (0 if stored.range else 0.5) for i in range(n_bins)
        ],
        "minimum": lo if bands else None,
        "maximum": hi if bands else None,
        "hist": hist,
    }


def list_histograms(request: Request, args: Args) -> Response:
    manifest = load(request)
    image_of(manifest)
    pools = ("PER_PLANE", "PER_CHANNEL", "PER_IMAGE")

    def content() -> dict[str, Any]:
        kind = Stored(request, manifest).type
        return collection(
            [
                {
                    "type": kind,
                    "pool": pool,
                    "availability": "AVAILABLE" if k == 0 else "ON_THE_FLY",
                }
                for k, pool in enumerate(pools)
            ]
        )

    return answer(request, manifest, content)


def full_histogram(request: Request, args: Args) -> Response:
    manifest = load(request)
    stored = Stored(request, manifest)
    n_bins = args.get_int("n_bins", 1, 256) or 256
    return answer(request, manifest, lambda: _detailed(stored, "PER_IMAGE", stored.bands, n_bins))


def channel_histograms(request: Request, args: Args) -> Response:
    manifest = load(request)
    stored = Stored(request, manifest)
    img = stored.image
    n_bins = args.get_int("n_bins", 1, 256) or 256
    p = request.path_params
    channels = path_indexes("channels", p["channels"], img["n_channels"])
    per_plane = "z" in p
    zs = path_indexes("z_slices", p["z"], img.get("depth", 1)) if per_plane else None
    ts = path_indexes("timepoints", p["t"], img.get("duration", 1)) if per_plane else None

    def content() -> dict[str, Any]:
        items = []
        for c in channels:
            if zs is None or ts is None:
                items.append({**_detailed(stored, "PER_CHANNEL", stored.pick(c), n_bins), "c": c})
                continue
            for z in zs:
                for t in ts:
                    detailed = _detailed(stored, "PER_PLANE", stored.pick(c, z, t), n_bins)
                    items.append({**detailed, "c": c, "z": z, "t": t})
        return collection(items)

    return answer(request, manifest, content)
