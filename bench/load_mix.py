"""The load mix of issue 12: tiles, thumbnails and small windows at once against the real server
(``cytotile serve``, one worker), 32 keep-alive connections for 60 s (10 s with ``--quick``).

Printed: per kind and overall, requests, p50 and p99 latency; errors (any answer but 200 or
429, or a socket error: each one fails the run); heavy outputs refused 429 by the time budget's
queue (api/heavy.py: by design, not an error); the server's peak RSS (VmHWM). The load
generator is a Python client (asyncio + httpx2), itself a bottleneck on a small machine: the
numbers are for the server's behaviour under a mixed load (no 5xx, tiles not starved by heavy
outputs, bounded memory), not its top speed (see the HTTP section for that).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.app_path import ORIGINAL_NAME, UPLOAD_ID, write_manifest
from bench.common import Row, Section
from bench.http_load import CONNECTIONS, cpu_split, get, running_server
from cytotile.pyramid import Pyramid

TITLE = "Load mix (tiles, thumbs, small windows; issue 12)"
SHARES = {"tile": 80, "thumb": 10, "window": 10}  # of the requests sent
Request = tuple[str, str, str, bytes | None]  # kind, method, path, JSON body


def make_requests(pyramid: Pyramid, n: int, seed: int = 12) -> list[Request]:
    """``n`` requests in the mix's proportions: random tiles of every tier (passthrough), thumbs
    of 128 to 2048 pixels (the largest are heavy outputs), 256-1024-pixel windows of level 0."""
    rng = random.Random(seed)
    image = f"/image/{UPLOAD_ID}/{ORIGINAL_NAME}"
    base = pyramid.base
    out: list[Request] = []
    kinds = rng.choices(list(SHARES), weights=list(SHARES.values()), k=n)
    for kind in kinds:
        if kind == "tile":
            tier = pyramid.tiers[rng.randrange(pyramid.n_tiers)]
            tx, ty = rng.randrange(tier.n_tx), rng.randrange(tier.n_ty)
            path = f"{image}/normalized-tile/level/{tier.level}/tx/{tx}/ty/{ty}.jpg"
            out.append((kind, "GET", path, None))
        elif kind == "thumb":
            length = rng.choice([128, 256, 512, 1024, 2048])
            out.append((kind, "GET", f"{image}/thumb.jpg?length={length}", None))
        else:
            side = min(rng.choice([256, 512, 1024]), base.width, base.height)
            left = rng.randrange(base.width - side + 1)
            top = rng.randrange(base.height - side + 1)
            region = {"left": left, "top": top, "width": side, "height": side}
            body = json.dumps({"region": region}).encode()
            out.append((kind, "POST", f"{image}/window.jpg", body))
    return out


async def _drive(base: str, requests: list[Request], seconds: float) -> dict[str, Any]:
    import httpx2

    latencies: dict[str, list[float]] = {kind: [] for kind in SHARES}
    errors: Counter[str] = Counter()
    busy: Counter[str] = Counter()  # 429: could not be made within the time budget now
    limits = httpx2.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    position = 0
    deadline = time.perf_counter() + seconds
    headers = {"content-type": "application/json"}
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal position
            while time.perf_counter() < deadline:
                kind, method, path, body = requests[position % len(requests)]
                position += 1
                start = time.perf_counter()
                try:
                    response = await client.request(method, path, content=body, headers=headers)
                    if response.status_code == 429:
                        busy[kind] += 1
                    elif response.status_code != 200:
                        errors[f"{kind} {response.status_code}"] += 1
                except httpx2.HTTPError as exc:
                    errors[f"{kind} {type(exc).__name__}"] += 1
                latencies[kind].append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - start
    return {"latencies": latencies, "errors": errors, "busy": busy, "seconds": elapsed}


def _quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def bench_load_mix(root: Path, width: int, height: int, seconds: float) -> Section:
    section = Section(TITLE, "")
    pyramid = Pyramid(width, height)
    write_manifest(root, width, height, pyramid.n_tiers)
    requests = make_requests(pyramid, 20_000)
    server_pin, _ = cpu_split()
    procs: list[Any] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-mix-") as tmp,
        running_server(root, server_pin, Path(tmp) / "server.log", procs.append) as base,
    ):
        for _, method, path, _ in requests[:10]:  # warm-up (GETs only)
            if method == "GET" and get(base + path) != 200:
                raise RuntimeError(f"{path} did not answer 200")
        result = asyncio.run(_drive(base, requests, seconds))
        peak = vm_hwm_mb(procs[0].pid)
    every: list[float] = []
    for kind, values in result["latencies"].items():
        every += values
        p50, p99 = _quantiles(values)
        note = f"{len(values)} requests"
        section.rows += [
            Row(f"{kind}: p50 latency", p50, "s", note=note),
            Row(f"{kind}: p99 latency", p99, "s"),
        ]
    p50, p99 = _quantiles(every)
    rps = len(every) / result["seconds"]
    how = f"{CONNECTIONS} connections, {result['seconds']:.0f} s, Python client (asyncio + httpx2)"
    section.rows += [
        Row("all: requests/s", round(rps), "req/s", note=how),
        Row("all: p50 latency", p50, "s"),
        Row("all: p99 latency", p99, "s"),
        Row("errors", sum(result["errors"].values()), "", note=", ".join(
            f"{k}: {v}" for k, v in sorted(result["errors"].items())) or "none"),
        Row("refused 429 (time budget)", sum(result["busy"].values()), "", note=", ".join(
            f"{k}: {v}" for k, v in sorted(result["busy"].items())) or "none"),
        Row("server peak RSS (VmHWM)", peak, "MB"),
    ]  # fmt: skip
    if result["errors"]:
        section.errors.append(f"load mix: {dict(result['errors'])}")
    return section
