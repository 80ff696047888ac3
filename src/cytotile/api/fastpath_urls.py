"""The tile URLs the fast path knows (:mod:`cytotile.api.fastpath`), and how each maps to a
stored tile with the ETag and the extra headers its full route gives it.

Each resolver does what its route does (``api/tiles.py``, ``api/dzi.py``, ``api/iiif/routes.py``)
for a request without parameters, and returns None wherever that route would not pass the
stored bytes through; domain errors propagate (the full app then answers them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cytotile.api.routing import Context, compile_pattern
from cytotile.api.tiles import tile_etag
from cytotile.pipeline import outputs
from cytotile.pipeline.encode import Format
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import DEFAULT_PARAMS
from cytotile.pyramid import Tier

NUM = r"(\d{1,9})"
PIMS_URL = re.compile(
    r"^/image/(.+?)/(normalized-tile|tile)/(zoom|level)/" + NUM
    + rf"/(?:ti/{NUM}|tx/{NUM}/ty/{NUM})(\.[A-Za-z][A-Za-z0-9]{{0,4}})?$"
)  # fmt: skip
DZI_URL = re.compile(rf"^/dzi/(.+?)_files/{NUM}/{NUM}_{NUM}\.([A-Za-z]{{3,4}})$")
IIIF_URL = compile_pattern("/iiif/{version}/{path}/{region}/{size}/{rotation}/{quality}.{format}")
Headers = list[tuple[bytes, bytes]]
Parsed = tuple[str, tuple[Any, ...], str | None]  # image path, tile key, extension
JPEG = Format.JPEG.value  # as the full routes' ETags name it


@dataclass(frozen=True)
class Resolved:
    tier: Tier
    tile_tx: int
    tile_ty: int
    etag: str
    front: Headers  # before X-Cytotile-Passthrough (IIIF's Link)
    back: Headers  # after the caching headers (IIIF's Access-Control-Allow-Origin)


def parse(route_path: str) -> Parsed | None:
    """(image path, tile key, extension to negotiate) of a tile URL, else None. Keys start
    with the protocol; DeepZoom and IIIF name their format in the URL (no Accept)."""
    match = PIMS_URL.match(route_path)
    if match is not None:
        path, resource, kind, n, ti, tx, ty, ext = match.groups()
        return path, ("pims", resource, kind, n, ti, tx, ty), ext
    match = DZI_URL.match(route_path)
    if match is not None:
        path, level, col, row, fmt = match.groups()
        return (path, ("dzi", level, col, row), None) if fmt.lower() in ("jpeg", "jpg") else None
    match = IIIF_URL.match(route_path)
    if match is not None and match["version"] in ("2", "3") and match["format"] == "jpg":
        keys = ("version", "region", "size", "rotation", "quality")
        return match["path"], ("iiif", *(match[k] for k in keys)), None
    return None


def pims(view: ImageView, ctx: Context, tile: tuple[Any, ...]) -> Resolved | None:
    _, resource, kind, n, ti, tx, ty = tile
    pyramid = view.pyramid
    tier = pyramid.at_zoom(int(n)) if kind == "zoom" else pyramid.at_level(int(n))
    if ti is not None:
        tile_tx, tile_ty = tier.ti_to_txty(int(ti))
    else:
        tile_tx, tile_ty = int(tx), int(ty)
        tier.check_txty(tile_tx, tile_ty)
    quality = ctx.settings.output_jpeg_quality
    etag = tile_etag(resource, view.digest, tier.level, tile_tx, tile_ty, "default", JPEG, quality)
    return Resolved(tier, tile_tx, tile_ty, etag, [], [])


def dzi(view: ImageView, ctx: Context, tile: tuple[Any, ...]) -> Resolved | None:
    from cytotile.api.dzi import _tile_region
    from cytotile.api.dzi import tile_etag as dzi_tile_etag

    level, col, row = map(int, tile[1:])
    pyramid = view.pyramid
    k, _ = _tile_region(pyramid, level, col, row)
    if k > pyramid.max_level:
        return None  # rendered from the smallest tier
    tier = pyramid.at_level(k)
    tier.check_txty(col, row)
    quality = ctx.settings.output_jpeg_quality
    etag = dzi_tile_etag(view.digest, level, col, row, "default", JPEG, quality)
    return Resolved(tier, col, row, etag, [], [])


def iiif(view: ImageView, ctx: Context, tile: tuple[Any, ...]) -> Resolved | None:
    from cytotile.api.iiif import render
    from cytotile.api.iiif.base import ALLOW_ORIGIN
    from cytotile.api.iiif.request import parse_quality, parse_region, parse_rotation, parse_size
    from cytotile.api.iiif.routes import PROFILE_LINK, limits, stored_etag

    _, version, region_s, size_s, rotation_s, quality_s = tile
    rotation, quality = parse_rotation(rotation_s), parse_quality(quality_s)
    if not rotation.is_identity:
        return None
    if not (quality == "default" or (quality == "color" and view.header.n_samples == 3)):
        return None  # rendered (grey, bitonal)
    pyramid = view.pyramid
    region = parse_region(region_s, pyramid.base.width, pyramid.base.height)
    width, height = parse_size(size_s, region, int(version), limits(ctx))
    size = size_s.lstrip("^")
    slack = (int(size.startswith(",")), int(size.endswith(",")))
    found = render.stored_tile(pyramid, region, width, height, slack)
    if found is None:
        return None
    tier, tile_tx, tile_ty = found
    etag = stored_etag(view.digest, tier.level, tile_tx, tile_ty, quality, "default")
    link = [(b"link", PROFILE_LINK[int(version)].encode("latin-1"))]
    return Resolved(tier, tile_tx, tile_ty, etag, link, [(ALLOW_ORIGIN, b"*")])


RESOLVERS: dict[str, Callable[[ImageView, Context, tuple[Any, ...]], Resolved | None]] = {
    "pims": pims,
    "dzi": dzi,
    "iiif": iiif,
}


def resolve(view: ImageView, ctx: Context, tile: tuple[Any, ...]) -> tuple[Resolved, int] | None:
    """The stored tile a key names and its plane, when its route passes it through (the
    tier's plane is JPEG-coded); None otherwise."""
    found = RESOLVERS[tile[0]](view, ctx, tile)
    if found is None:
        return None
    opts = outputs.Options(Format.JPEG, ctx.settings.output_jpeg_quality)
    plane = outputs.passthrough_plane(view, found.tier, DEFAULT_PARAMS, opts)
    return None if plane is None else (found, plane)
