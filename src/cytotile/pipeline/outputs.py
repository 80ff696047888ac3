"""The image outputs: normalized tiles (and tiles), thumbnails, resized images and windows.

A JPEG tile whose rendering is the identity is served by passthrough: the stored JPEG bytes,
one ranged GET, no decode. Everything else is read (from the most appropriate tier), resized
if needed (raw samples first: fewer pixels to process), rendered, then encoded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cytotile.pipeline import budget, encode, process, render, sizes
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
    #: bytes one answer may take: the deployment's (budget.request_budget) unless given. Not
    #: part of the repr that ETags hash: functions of different memory sizes give the same
    #: answer the same ETag (what the budget changes, the planned size, is hashed instead)
    memory_budget: int = field(default_factory=budget.deployment_budget, repr=False)
    #: seconds one answer may take (budget.seconds estimates them); not in the repr either
    time_budget: float = field(default=budget.DEFAULT_TIME_S, repr=False)


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
    """Read, resize, render, encode, in the order that holds the fewest bytes: downscaling
    resizes the raw samples first (fewer pixels to render); upscaling renders at the source's
    size, then libvips resizes and encodes in one streaming pipeline (see budget.estimate)."""
    manip = params.manipulation
    sel = render.select(view, params.planes)
    stack = render.read_stack(view, sel, tier.level, region)
    width, height = size
    upscaled = width * height > stack.shape[0] * stack.shape[1]
    identity = render.is_identity(view, sel, manip, bits)
    channels = None if identity else render.channel_renders(view, sel, manip, stack)
    if not upscaled:
        stack = encode.resize(stack, width, height)
    if channels is None:
        pixels = process.convert_colorspace(stack, manip.colorspace)
    else:
        pixels = process.render_rows(
            stack,
            channels,
            strip_pixels=budget.STRIP_PIXELS,
            log=manip.log,
            filter_id=manip.filter,
            colorspace=manip.colorspace,
            bits=bits,
        )
    del stack
    if upscaled:
        return encode.encode_resized(pixels, width, height, opts.fmt, opts.quality)
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
        if not natural or header.pixel_type != "uint8" or header.extra.get("shift"):
            return None  # shifted (signed) samples are rendered in the file's values
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
    return make(view, plan_thumb(view, target, params, opts), params, opts)


def resized(view: ImageView, target: Target, params: ImageParams, opts: Options) -> Output:
    """The whole image at a target size, zoom or level (16 bits when asked and possible)."""
    return make(view, plan_resized(view, target, params, opts), params, opts)


def window(
    view: ImageView, win: WindowInput, target: Target, params: ImageParams, opts: Options
) -> Output:
    """A region of a reference tier, at its own size or at a target size."""
    return make(view, plan_window(view, win, target, params, opts), params, opts)


@dataclass(frozen=True)
class Plan:
    """An output decided before any pixel is read: its size (the size rule, the encoder's
    limit and the memory budget applied), the tier and region it is read from."""

    tier: Tier
    region: Region
    width: int
    height: int
    bits: int
    headers: dict[str, str]
    seconds: float = 0.0  # the estimated time of its work (budget.seconds)

    @property
    def pixels(self) -> int:
        """The larger of the output and its source: how heavy the request is."""
        return max(self.width * self.height, self.region.width * self.region.height)


def make(view: ImageView, plan: Plan, params: ImageParams, opts: Options) -> Output:
    size = (plan.width, plan.height)
    data = _render(view, params, plan.tier, plan.region, size, opts, plan.bits)
    return Output(data, opts.fmt.media_type, headers=plan.headers)


def _work(
    view: ImageView, params: ImageParams, opts: Options, bits: int, src: Region, out_px: int
) -> budget.Work:
    sel = render.select(view, params.planes)
    manip = params.manipulation
    n_in = len(sel.channels)
    grey = (n_in == 1 and not manip.colormaps) or manip.colorspace == "GRAY"
    reads = len(getattr(sel, "reduced", ()) or ()) or 1
    copies = reads + 1 if reads > 1 else (2 if view.header.n_concrete_channels > 1 else 1)
    return budget.Work(
        src.width * src.height,
        n_in,
        view.bits // 8,
        out_px,
        1 if grey and manip.colorspace != "COLOR" else 3,
        1 if opts.fmt.max_bits < 16 else bits // 8,
        opts.fmt,
        whole_image_filter=manip.filter is not None,
        copies=copies,
    )


#: a thumbnail is read from a tier at least this many times its size (level 0 if none is), as
#: libvips's and Pillow's reducing gap: lanczos over less than 2x of a box-averaged tier is
#: sharper than the image reduced from full resolution, by 3-4 of 255 on tissue (docs/quality.md)
THUMB_GAP = 2


def plan_thumb(view: ImageView, target: Target, params: ImageParams, opts: Options) -> Plan:
    base = view.pyramid.base
    width, height = sizes.scaled_size(target, base.width, base.height, None)
    return _plan_whole(view, width, height, params, opts, 8, THUMB_GAP)


def plan_resized(view: ImageView, target: Target, params: ImageParams, opts: Options) -> Plan:
    base = view.pyramid.base
    width, height = sizes.scaled_size(target, base.width, base.height, view.pyramid)
    bits = output_bits(params.manipulation.bits, view, opts.fmt)
    return _plan_whole(view, width, height, params, opts, bits)


def _plan_whole(
    view: ImageView,
    width: int,
    height: int,
    params: ImageParams,
    opts: Options,
    bits: int,
    gap: int = 1,
) -> Plan:
    def work_of(w: int, h: int) -> budget.Work:
        tier = view.pyramid.most_appropriate_tier(w * gap, h * gap)
        return _work(view, params, opts, bits, Region(0, 0, tier.width, tier.height), w * h)

    width, height, headers = _fit(width, height, opts, work_of)
    tier = view.pyramid.most_appropriate_tier(width * gap, height * gap)
    secs = budget.seconds(work_of(width, height))
    return Plan(tier, Region(0, 0, tier.width, tier.height), width, height, bits, headers, secs)


def plan_window(
    view: ImageView, win: WindowInput, target: Target, params: ImageParams, opts: Options
) -> Plan:
    pyramid = view.pyramid
    ref, region = sizes.window_region(pyramid, win)
    width, height = sizes.scaled_size(target, region.width, region.height, pyramid, ref)
    bits = output_bits(params.manipulation.bits, view, opts.fmt)

    def source(w: int, h: int) -> tuple[Tier, Region]:
        tier = sizes.source_tier(pyramid, ref, region, w, h)
        return tier, sizes.region_in(region, ref, tier)

    def work_of(w: int, h: int) -> budget.Work:
        return _work(view, params, opts, bits, source(w, h)[1], w * h)

    width, height, headers = _fit(width, height, opts, work_of)
    tier, src = source(width, height)
    secs = budget.seconds(work_of(width, height))
    return Plan(tier, src, width, height, bits, headers, secs)


def _fit(
    width: int, height: int, opts: Options, work_of: Callable[[int, int], budget.Work]
) -> tuple[int, int, dict[str, str]]:
    return budget.fit(
        width, height, opts.fmt, opts.max_pixels, opts.safety, opts.memory_budget, work_of,
        opts.time_budget,
    )  # fmt: skip
