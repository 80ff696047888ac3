"""What one image answer may cost, decided from its size before any pixel is read.

Three rules, in this order, on the output size the request asks for:

1. the size rule (``max_output_pixels``; ``X-Image-Size-Safety``: SAFE_REJECT refuses,
   SAFE_RESIZE shrinks, UNSAFE lifts it) — :func:`cytotile.pipeline.sizes.limit`;
2. the encoder's limit on a side (JPEG 65,500, WebP 16,383): refused, or shrunk under
   SAFE_RESIZE (UNSAFE cannot lift what the format cannot hold);
3. the memory budget of one request (:func:`request_budget`): the bytes the pipeline of
   :mod:`cytotile.pipeline.outputs` will hold at its peak (:func:`estimate`) must fit; refused
   (:class:`OverBudget`), or shrunk under SAFE_RESIZE. UNSAFE lifts the size rule, never this;
4. the time budget of one request (``request_time_s``): the seconds the work would take on
   this server (:func:`seconds`, from throughput measured per output sample and format) must
   fit; refused (:class:`OverTimeBudget`), or shrunk under SAFE_RESIZE. UNSAFE does not lift it.

When the answer is smaller than asked, ``X-Image-Size-Limit`` says so (PIMS's header).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from cytotile.errors import OverBudget, OverTimeBudget, TooLarge
from cytotile.pipeline.encode import Format
from cytotile.pipeline.params import Safety
from cytotile.pipeline.sizes import limit

LAMBDA_MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # MiB, set by the Lambda runtime
LAMBDA_RESERVE_MB = 320  # the runtime, the libraries and the caches of a tile function
LOCAL_BUDGET_MB = 1024
MAX_SIDE = {Format.JPEG: 65_500, Format.WEBP: 16_383, Format.PNG: 10_000_000}
STRIP_PIXELS = 1 << 20  # rendering works on row strips of about this many pixels
TEMP_BYTES = 48  # float32 working copies per pixel of a strip being rendered
STREAM_BYTES = 32 << 20  # libvips' own buffers while it resizes and encodes, streaming
#: encoded bytes per raw byte, at worst (noise): PNG barely compresses it, JPEG/WebP do
ENCODED_SHARE = {Format.JPEG: 0.5, Format.WEBP: 0.5, Format.PNG: 1.05}
DEFAULT_TIME_S = 10.0
#: seconds per output sample (pixel x band), by format and bytes per sample: resize, render
#: and encode, on 2 CPUs (REFERENCE_CPUS), at the slow end of what was measured on a shared
#: 2-core machine (upscaled sample.png / CMU-1: JPEG 16-24 ns, PNG 60, WebP 77, 16-bit PNG 171)
SAMPLE_S = {
    (Format.JPEG, 1): 25e-9,
    (Format.PNG, 1): 70e-9,
    (Format.PNG, 2): 190e-9,
    (Format.WEBP, 1): 90e-9,
}
SOURCE_SAMPLE_S = 10e-9  # reading (decoding) one source sample of the tier region
FIXED_S = 0.02
REFERENCE_CPUS = 2  # a machine with fewer CPUs takes that much longer (the encoders use one)


def request_budget(memory_mb: int = 0) -> int:
    """Bytes one image answer may take: ``memory_mb`` when set; on Lambda (one request at a
    time) the function's memory less a reserve; else ``LOCAL_BUDGET_MB``."""
    if memory_mb > 0:
        return memory_mb << 20
    lambda_mb = os.environ.get(LAMBDA_MEMORY_ENV, "")
    if lambda_mb.isdigit():
        return max(64, int(lambda_mb) - LAMBDA_RESERVE_MB) << 20
    return LOCAL_BUDGET_MB << 20


@functools.cache
def deployment_budget() -> int:
    """:func:`request_budget` of the deployment, read once per process."""
    return request_budget()


@dataclass(frozen=True)
class Work:
    """The shape of one output's work: its source (a region of one tier) and its output."""

    src_pixels: int
    in_bands: int  # selected channels
    in_bytes: int  # bytes per source sample
    out_pixels: int
    out_bands: int  # 1 (grey) or 3
    out_bytes: int  # 1 or 2
    fmt: Format
    whole_image_filter: bool = False  # a threshold filter renders in one piece
    copies: int = 1  # source-sized arrays held at once (planes read one by one, then stacked)

    @property
    def upscaled(self) -> bool:
        return self.out_pixels > self.src_pixels


def estimate(work: Work) -> int:
    """Peak bytes of :func:`cytotile.pipeline.outputs._render` for ``work``.

    Downscaling (or none): the source, the raw samples resized (a libvips result and its numpy
    copy), the rendered output, one strip's float32 temporaries, the encoded answer.
    Upscaling: the source, rendered at its own size, then libvips resizes and encodes it
    streaming: the full-size output never exists, only the encoded answer."""
    src = work.src_pixels * work.in_bands * work.in_bytes * work.copies
    rendered_px = work.src_pixels if work.upscaled else work.out_pixels
    temps = (rendered_px if work.whole_image_filter else min(rendered_px, STRIP_PIXELS)) * (
        TEMP_BYTES
    )
    rendered = rendered_px * work.out_bands * work.out_bytes
    # the encoded answer three times: libvips' output buffer as it grows (reallocated: up to
    # twice its final size), then its copy as the response's bytes (measured: a 580 MB PNG
    # answer took 1.7 GB at its peak when counted once; 430 MB took 1.3 GB counted twice)
    encoded = 3 * int(work.out_pixels * work.out_bands * work.out_bytes * ENCODED_SHARE[work.fmt])
    if work.upscaled:
        return src + rendered + temps + encoded + STREAM_BYTES
    resized = work.out_pixels * work.in_bands * work.in_bytes * 2
    return src + resized + rendered + temps + encoded


@functools.cache
def cpus() -> int:
    """CPUs this process may run on (read once)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def seconds(work: Work) -> float:
    """Seconds the work takes on this machine when idle, at the slow end of what was measured
    (detailed content); the queue of heavy requests scales it by the current slowdown."""
    per_sample = SAMPLE_S[(work.fmt, work.out_bytes if work.fmt is Format.PNG else 1)]
    out = work.out_pixels * work.out_bands * per_sample
    src = work.src_pixels * work.in_bands * work.copies * SOURCE_SAMPLE_S
    return (FIXED_S + out + src) * REFERENCE_CPUS / min(cpus(), REFERENCE_CPUS)


def _over(width: int, height: int, cost: int, budget: int, secs: float, time_s: float) -> str:
    if cost > budget:
        return (
            f"a {width}x{height} answer would need about {cost >> 20} MiB, more than the "
            f"{budget >> 20} MiB one request may use on this server"
        )
    return (
        f"a {width}x{height} answer would take about {secs:.0f} s to make on this server, "
        f"more than the {time_s:g} s one request may take"
    )


def _shrunk(width: int, height: int, ratio: float) -> tuple[int, int]:
    return max(1, math.floor(width * ratio)), max(1, math.floor(height * ratio))


def fit(
    width: int,
    height: int,
    fmt: Format,
    max_pixels: int,
    safety: Safety,
    budget: int,
    work_of: Callable[[int, int], Work],
    time_s: float = DEFAULT_TIME_S,
) -> tuple[int, int, dict[str, str]]:
    """The output size once the four rules hold, and the response headers saying so; or
    TooLarge / OverBudget / OverTimeBudget with the reason. ``work_of(w, h)``: the work of a
    ``w`` x ``h`` output (its source tier depends on its size)."""
    asked = (width, height)
    width, height, _ = limit(width, height, max_pixels, safety)
    side = MAX_SIDE[fmt]
    if max(width, height) > side:
        if safety is not Safety.SAFE_RESIZE:
            raise TooLarge(
                f"the answer would be {width}x{height}; {fmt.name} cannot hold a side over "
                f"{side} pixels: ask a smaller size or another format, or send "
                "X-Image-Size-Safety: SAFE_RESIZE"
            )
        width, height = _shrunk(width, height, side / max(width, height))
    for _ in range(12):
        work = work_of(width, height)
        cost, secs = estimate(work), seconds(work)
        if cost <= budget and secs <= time_s:
            break
        if safety is not Safety.SAFE_RESIZE:
            error = OverBudget if cost > budget else OverTimeBudget
            reason = _over(width, height, cost, budget, secs, time_s)
            raise error(f"{reason}; ask a smaller size, or send X-Image-Size-Safety: SAFE_RESIZE")
        ratio = min(math.sqrt(budget / cost), math.sqrt(time_s / secs))
        width, height = _shrunk(width, height, 0.97 * ratio)
    else:
        raise OverBudget(f"no answer of this image fits {budget >> 20} MiB and {time_s:g} s")
    if (width, height) == asked:
        return width, height, {}
    header = (
        f"ratio={width / asked[0]:.6f},request_width={asked[0]},request_height={asked[1]},"
        f"safe_width={width},safe_height={height}"
    )
    return width, height, {"X-Image-Size-Limit": header}
