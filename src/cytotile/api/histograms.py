"""Histograms, from ``processed/histogram`` (computed at import: 256 bins per band of each
plane, on a tier of at most 2048 pixels a side, so of PIMS type ``FAST``).

The stored file: ``{"n_bins": 256, "planes": [{"c", "z", "t", "level",
"channels": [{"min", "max", "bins"}, ...one per sample]}]}``. A PIMS channel index is
``c * n_samples + sample``. Per-channel and per-image histograms are sums of plane ones.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.info import collection
from cytotile.api.metadata import answer, image_of, load
from cytotile.api.routing import context, route
from cytotile.errors import BadParameter, NotFound
from cytotile.manifest import HISTOGRAM_NAME, Manifest
from cytotile.pipeline.args import Args, to_int

Band = tuple[int, int, int, int, dict[str, Any]]  # (channel, z, t, sample, band)


def _bands(request: Request, m: Manifest) -> list[Band]:
    try:
        data = json.loads(context(request).storage.read(f"{m.id}/{HISTOGRAM_NAME}"))
    except NotFound:
        raise NotFound(f"{m.id} has no histogram") from None
    n_samples = image_of(m).get("n_samples", 1)
    return [
        (plane["c"] * n_samples + s, plane["z"], plane["t"], s, band)
        for plane in data.get("planes", [])
        for s, band in enumerate(plane.get("channels", []))
    ]


def _n_bins(args: Args) -> int:
    return args.get_int("n_bins", 1, 256) or 256


def _detailed(m: Manifest, pool: str, bands: list[Band], n_bins: int) -> dict[str, Any]:
    bits = 16 if image_of(m).get("pixel_type") == "uint16" else 8
    stored = [0] * 256
    for *_, band in bands:
        for i, count in enumerate(band["bins"][:256]):
            stored[i] += int(count)
    hist = [0] * n_bins
    for i, count in enumerate(stored):
        hist[i * n_bins // 256] += count
    width = (1 << bits) / n_bins
    return {
        "type": "FAST",
        "pool": pool,
        "availability": "AVAILABLE" if pool == "PER_PLANE" else "ON_THE_FLY",
        "n_bins": n_bins,
        "bin_centers": [(i + 0.5) * width - 0.5 for i in range(n_bins)],
        "minimum": min((b[4]["min"] for b in bands), default=None),
        "maximum": max((b[4]["max"] for b in bands), default=None),
        "hist": hist,
    }


def _indexes(name: str, text: str, count: int) -> list[int]:
    values = [to_int(name, v) for v in text.split(",") if v.strip()]
    bad = [v for v in values if v >= count]
    if not values or bad:
        raise BadParameter(f"{name}: {text!r} is not a list of indexes in 0..{count - 1}")
    return sorted(set(values))


def list_histograms(request: Request, args: Args) -> Response:
    manifest = load(request)
    image_of(manifest)
    pools = ("PER_PLANE", "PER_CHANNEL", "PER_IMAGE")
    items = [
        {"type": "FAST", "pool": pool, "availability": "AVAILABLE" if k == 0 else "ON_THE_FLY"}
        for k, pool in enumerate(pools)
    ]
    return answer(request, manifest, lambda: collection(items))


def full_histogram(request: Request, args: Args) -> Response:
    manifest = load(request)
    bands = _bands(request, manifest)
    n_bins = _n_bins(args)
    return answer(request, manifest, lambda: _detailed(manifest, "PER_IMAGE", bands, n_bins))


def channel_histograms(request: Request, args: Args) -> Response:
    manifest = load(request)
    img = image_of(manifest)
    bands = _bands(request, manifest)
    n_bins = _n_bins(args)
    p = request.path_params
    channels = _indexes("channels", p["channels"], img["n_channels"])
    per_plane = "z" in p
    zs = _indexes("z_slices", p["z"], img.get("depth", 1)) if per_plane else None
    ts = _indexes("timepoints", p["t"], img.get("duration", 1)) if per_plane else None

    def content() -> dict[str, Any]:
        items = []
        for c in channels:
            if zs is None or ts is None:
                chosen = [b for b in bands if b[0] == c]
                items.append({**_detailed(manifest, "PER_CHANNEL", chosen, n_bins), "c": c})
                continue
            for z in zs:
                for t in ts:
                    chosen = [b for b in bands if b[:3] == (c, z, t)]
                    detailed = _detailed(manifest, "PER_PLANE", chosen, n_bins)
                    items.append({**detailed, "c": c, "z": z, "t": t})
        return collection(items)

    return answer(request, manifest, content)


def routes() -> list[BaseRoute]:
    base = "/image/{path}/histograms"
    return [
        route(base, list_histograms),
        route(base + "/full", full_histogram),
        route(base + "/c/{channels}", channel_histograms),
        route(base + "/c/{channels}/z/{z}/t/{t}", channel_histograms),
    ]
