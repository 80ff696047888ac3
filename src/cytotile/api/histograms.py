"""Histograms, from ``processed/histogram`` (computed at import on every full-resolution plane,
streaming: PIMS type ``COMPLETE``; a JPEG-tiled slide's from its level 1: ``FAST``), served
with the stored type without touching pixels.

The stored file: ``{"type", "n_bins", "bits", "planes": [{"c", "z", "t", "channels": [{"min",
"max", "bins"}, ...one per sample]}]}``: ``n_bins`` bins over ``2 ** bits`` values (8-bit: 256
exact values; 16-bit: 4096 bins of 16 values). A PIMS channel index is ``c * n_samples +
sample``; per-channel and per-image histograms are sums of plane ones.

Routes: PIMS's current ``histogram/per-image``, ``per-channels``, ``per-plane/z/{z}/t/{t}``
(each with ``/bounds``), and the older ``histograms/...`` of the OpenAPI description.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.info import collection
from cytotile.api.metadata import answer, channels_info, image_of, load
from cytotile.api.routing import context, route
from cytotile.errors import BadParameter, NotFound
from cytotile.manifest import HISTOGRAM_NAME, Manifest
from cytotile.pipeline.args import Args, to_int
from cytotile.pipeline.params import signed_offset

Band = tuple[int, int, int, dict[str, Any]]  # (channel, z, t, band)


class Stored:
    """The histogram file of an image, its bands indexed by PIMS channel."""

    def __init__(self, request: Request, m: Manifest) -> None:
        try:
            data = json.loads(context(request).storage.read(f"{m.id}/{HISTOGRAM_NAME}"))
        except NotFound:
            raise NotFound(f"{m.id} has no histogram") from None
        self.image = image_of(m)
        #: each channel's colour as /info/channels gives it (PIMS's, e.g. "#f00" for red)
        self.colors = {int(c["index"]): c["color"] for c in channels_info(m)}
        n_samples = int(self.image.get("n_samples") or 1)
        self.type = str(data.get("type", "FAST"))
        self.n_bins = int(data.get("n_bins", 256))
        self.bits = int(data.get("bits", 16 if self.image.get("pixel_type") == "uint16" else 8))
        #: signed samples are stored shifted: minimum, maximum and ranges in the file's values
        self.offset = signed_offset(self.image)
        #: 32-bit samples: the bins span the image's [min, max], not the type's range
        stored_range = data.get("range")
        self.range: list[float] | None = (
            [v - self.offset for v in stored_range] if stored_range else None
        )
        self.bands: list[Band] = [
            (plane["c"] * n_samples + s, plane["z"], plane["t"], band)
            for plane in data.get("planes", [])
            for s, band in enumerate(plane.get("channels", []))
        ]

    def color(self, channel: int) -> str | None:
        color = self.colors.get(channel)
        return str(color) if color else None

    def merged(self, bands: list[Band]) -> tuple[list[int], int, int]:
        """Summed bins, minimum and maximum of ``bands``."""
        total = [0] * self.n_bins
        for *_, band in bands:
            for i, count in enumerate(band["bins"][: self.n_bins]):
                total[i] += int(count)
        lo = min((b[3]["min"] for b in bands), default=self.offset)
        hi = max((b[3]["max"] for b in bands), default=self.offset)
        return total, lo - self.offset, hi - self.offset

    def pick(self, channel: int, z: int | None = None, t: int | None = None) -> list[Band]:
        return [
            b for b in self.bands if b[0] == channel and z in (None, b[1]) and t in (None, b[2])
        ]


def rebin(bins: list[int], n_bins: int) -> list[int]:
    """``bins`` summed into ``n_bins`` (a divisor of its length: both are powers of 2)."""
    step = len(bins) // n_bins
    return [sum(bins[i : i + step]) for i in range(0, len(bins), step)]


def pims_n_bins(args: Args, stored: Stored) -> int:
    """PIMS: a power of 2, default 256, at most the stored resolution."""
    n_bins = args.get_int("n_bins", 1) or 256
    if n_bins & (n_bins - 1):
        raise BadParameter(f"n_bins: {n_bins} is not a power of 2")
    return min(n_bins, stored.n_bins)


def pims_histogram(stored: Stored, bands: list[Band], args: Args) -> dict[str, Any]:
    """PIMS's ``Histogram``: bounds, first and last non-empty bins, the bins between them
    (every bin when ``full_range``)."""
    bins, lo, hi = stored.merged(bands)
    hist = rebin(bins, pims_n_bins(args, stored))
    nonzero = [i for i, count in enumerate(hist) if count]
    first, last = (nonzero[0], nonzero[-1]) if nonzero else (0, 0)
    shown = hist if args.get_bool("full_range") else hist[first : last + 1]
    return {
        "type": stored.type,
        "minimum": lo,
        "maximum": hi,
        "first_bin": first,
        "last_bin": last,
        "n_bins": len(hist),
        "histogram": shown,
    }


def _channels(args: Args, stored: Stored) -> list[int]:
    n = int(stored.image["n_channels"])
    chosen = args.get_ints("channels") or list(range(n))
    bad = [c for c in chosen if c >= n]
    if bad:
        raise BadParameter(f"channels: {bad[0]} is outside 0..{n - 1}")
    return sorted(set(chosen))


def path_indexes(name: str, text: str, count: int) -> list[int]:
    values = [to_int(name, v) for v in text.split(",") if v.strip()]
    bad = [v for v in values if v >= count]
    if not values or bad:
        raise BadParameter(f"{name}: {text!r} is not a list of indexes in 0..{count - 1}")
    return sorted(set(values))


def _channel_fields(stored: Stored, c: int) -> dict[str, Any]:
    n_samples = int(stored.image.get("n_samples") or 1)
    return {
        "channel": c,
        "concrete_channel": c // n_samples,
        "sample": c % n_samples,
        "color": stored.color(c),
    }


def per_image(request: Request, args: Args) -> Response:
    manifest = load(request)
    bounds = request.url.path.endswith("/bounds")

    def content() -> dict[str, Any]:
        stored = Stored(request, manifest)
        out = pims_histogram(stored, stored.bands, args)
        return {k: out[k] for k in ("type", "minimum", "maximum")} if bounds else out

    return answer(request, manifest, content)


def per_channels(request: Request, args: Args) -> Response:
    manifest = load(request)
    p = request.path_params
    bounds = request.url.path.endswith("/bounds")

    def content() -> dict[str, Any]:
        stored = Stored(request, manifest)
        planes: list[tuple[int | None, int | None]] = [(None, None)]
        if "z" in p:
            zs = path_indexes("z_slices", p["z"], int(stored.image.get("depth", 1)))
            ts = path_indexes("timepoints", p["t"], int(stored.image.get("duration", 1)))
            planes = [(z, t) for z in zs for t in ts]
        items = []
        for c in _channels(args, stored):
            for z, t in planes:
                item = {
                    **_channel_fields(stored, c),
                    **pims_histogram(stored, stored.pick(c, z, t), args),
                }
                if z is not None:
                    item.update(z_slice=z, timepoint=t)
                if bounds:
                    item = {k: v for k, v in item.items() if k not in BIN_FIELDS}
                items.append(item)
        return collection(items)

    return answer(request, manifest, content)


BIN_FIELDS = ("first_bin", "last_bin", "n_bins", "histogram")


def routes() -> list[BaseRoute]:
    from cytotile.api.histograms_legacy import channel_histograms, full_histogram, list_histograms

    old = "/image/{path}/histograms"
    new = "/image/{path}/histogram"
    plane = new + "/per-plane/z/{z}/t/{t}"
    return [
        route(new + "/per-image", per_image),
        route(new + "/per-image/bounds", per_image, name="per_image_bounds"),
        route(new + "/per-channels", per_channels),
        route(new + "/per-channels/bounds", per_channels, name="per_channels_bounds"),
        route(plane, per_channels, name="per_plane"),
        route(plane + "/bounds", per_channels, name="per_plane_bounds"),
        route(old, list_histograms),
        route(old + "/full", full_histogram),
        route(old + "/c/{channels}", channel_histograms),
        route(old + "/c/{channels}/z/{z}/t/{t}", channel_histograms),
    ]
