"""The image outputs: normalized tiles (and tiles), thumbnails, resized images and windows.

A JPEG tile whose rendering is the identity is served by passthrough: the stored JPEG bytes,
one ranged GET, no decode. Everything else is read (from the most appropriate tier), resized
if needed (raw samples first: fewer pixels to process), rendered, then encoded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cytotile.pipeline import encode, process, render, sizes
from cytotile.pipeline.encode import Format, Output
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import DEFAULT_PARAMS, ImageParams, Safety
from cytotile.pipeline.regions import Target, WindowInput
from cytotile.pyramid import Region, Tier


@dataclass(frozen=True)
class Options:
    fmt: Format = Format.JPEG
    quality: int = 85
    max_pixels: int = 100_000_000
    safety: Safety = Safety.SAFE_REJECT


class TileStats:
    """Tiles served by this process, and how many by passthrough (read by the tile function's
    metrics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tiles = 0
        self.passthroughs = 0

    def count(self, passthrough: bool) -> None:
        with self._lock:
            self.tiles += 1
            self.passthroughs += int(passthrough)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"tiles": self.tiles, "passthroughs": self.passthroughs}

    def reset(self) -> None:
        with self._lock:
            self.tiles = self.passthroughs = 0


STATS = TileStats()


def output_bits(requested: int | None, view: ImageView, fmt: Format) -> int:
    """8, or 16 when asked (or AUTO on a 16-bit image) and the format can hold it."""
    wanted = view.bits if requested is None else requested
    return 16 if wanted == 16 and fmt.max_bits >= 16 else 8


def _render(
    view: ImageView,
    params: ImageParams,
    tier: Tier,
    region: Region,
    size: tuple[int, int],
    opts: Options,
    bits: int = 8,
) -> bytes:
    manip = params.manipulation
    sel = render.select(view, params.planes)
    stack = render.read_stack(view, sel, tier.level, region)
    if render.is_identity(view, sel, manip, bits):
        pixels = encode.resize(stack, *size)
        pixels = process.convert_colorspace(pixels, manip.colorspace)
    else:
        channels = render.channel_renders(view, sel, manip, stack)
        pixels = process.render(
            encode.resize(stack, *size),
            channels,
            log=manip.log,
            filter_id=manip.filter,
            colorspace=manip.colorspace,
            bits=bits,
        )
    return encode.encode(pixels, opts.fmt, opts.quality)


def passthrough_plane(
    view: ImageView, tier: Tier, params: ImageParams, opts: Options
) -> int | None:
    """The plane whose stored JPEG tiles answer the request as they are, if any: JPEG asked,
    a JPEG-coded tier, and a rendering that is the identity."""
    if opts.fmt is not Format.JPEG or params.manipulation.colorspace != "AUTO":
        return None
    header = view.header
    if params == DEFAULT_PARAMS:  # the common case, decided on the header alone
        natural = header.n_concrete_channels == 1 and header.n_samples in (1, 3)
        if not natural or header.pixel_type != "uint8":
            return None
        median = header.plane_index(0, (header.depth - 1) // 2, 0)
        return median if view.reader.is_jpeg(median, tier.level) else None
    sel = render.select(view, params.planes)
    plane = render.single_plane(view, sel)
    if plane is None or not render.is_identity(view, sel, params.manipulation, 8):
        return None
    return plane if view.reader.is_jpeg(plane, tier.level) else None


def passthrough_tile(view: ImageView, tier: Tier, tx: int, ty: int, plane: int) -> Output:
    """The stored JPEG of a tile (``plane`` from :func:`passthrough_plane`): one read."""
    tier.check_txty(tx, ty)
    data = view.reader.jpeg_tile(plane, tier.level, tx, ty)
    STATS.count(True)
    return Output(data, Format.JPEG.media_type, passthrough=True)


def normalized_tile(
    view: ImageView, tier: Tier, tx: int, ty: int, params: ImageParams, opts: Options
) -> Output:
    region = tier.tile_region(tx, ty)  # TileOutOfRange outside the grid
    plane = passthrough_plane(view, tier, params, opts)
    if plane is not None:
        return passthrough_tile(view, tier, tx, ty, plane)
    bits = output_bits(params.manipulation.bits, view, opts.fmt)  # 8 unless bits is asked
    data = _render(view, params, tier, region, (region.width, region.height), opts, bits)
    STATS.count(False)
    return Output(data, opts.fmt.media_type)


#: PIMS ``/tile`` uses the file's own tiling, which is the normalized one in the serving pyramid
tile = normalized_tile


def thumb(view: ImageView, target: Target, params: ImageParams, opts: Options) -> Output:
    """The whole image at a target size (8 bits, for display)."""
    base = view.pyramid.base
    width, height = sizes.scaled_size(target, base.width, base.height, None)
    return _whole(view, width, height, params, opts, 8)


def resized(view: ImageView, target: Target, params: ImageParams, opts: Options) -> Output:
    """The whole image at a target size, zoom or level (16 bits when asked and possible)."""
    base = view.pyramid.base
    width, height = sizes.scaled_size(target, base.width, base.height, view.pyramid)
    bits = output_bits(params.manipulation.bits, view, opts.fmt)
    return _whole(view, width, height, params, opts, bits)


def _whole(
    view: ImageView, width: int, height: int, params: ImageParams, opts: Options, bits: int
) -> Output:
    width, height, headers = sizes.limit(width, height, opts.max_pixels, opts.safety)
    tier = view.pyramid.most_appropriate_tier(width, height)
    region = Region(0, 0, tier.width, tier.height)
    data = _render(view, params, tier, region, (width, height), opts, bits)
    return Output(data, opts.fmt.media_type, headers=headers)


def window(
    view: ImageView, win: WindowInput, target: Target, params: ImageParams, opts: Options
) -> Output:
    """A region of a reference tier, at its own size or at a target size."""
    pyramid = view.pyramid
    ref, region = sizes.window_region(pyramid, win)
    width, height = sizes.scaled_size(target, region.width, region.height, pyramid, ref)
    width, height, headers = sizes.limit(width, height, opts.max_pixels, opts.safety)
    tier = sizes.source_tier(pyramid, ref, region, width, height)
    source = sizes.region_in(region, ref, tier)
    bits = output_bits(params.manipulation.bits, view, opts.fmt)
    data = _render(view, params, tier, source, (width, height), opts, bits)
    return Output(data, opts.fmt.media_type, headers=headers)
