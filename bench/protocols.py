"""IIIF and DeepZoom tiles against the PIMS tile route, in one run of the real server.

The same random stored tiles are asked three ways: PIMS (``normalized-tile/level/L/tx/ty.jpg``),
IIIF (the tile's level-0 footprint at its own size, as OpenSeadragon asks from ``info.json``) and
DeepZoom (level maxL - L). All three are passthrough (checked on a sample through
``X-Cytotile-Passthrough``): a stored tile should cost the same whichever protocol asks, and the
rows say how close each comes to the PIMS route (same server, same load generator).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import quote

from bench.app_path import ORIGINAL_NAME, UPLOAD_ID, write_manifest
from bench.common import Row, Section
from bench.http_load import (
    FLOOR_UVICORN_RPS,
    N_URLS,
    Load,
    cpu_split,
    run_python,
    run_wrk,
    running_server,
)
from bench.tiles import Tile, sample_tiles
from cytotile.pyramid import Pyramid

ROUNDS = 3  # turns of the three protocols


def tile_urls(pyramid: Pyramid, tiles: list[Tile]) -> dict[str, list[str]]:
    """The same tiles as PIMS, IIIF and DeepZoom URLs."""
    path = f"{UPLOAD_ID}/{ORIGINAL_NAME}"
    base = pyramid.base
    top = (max(base.width, base.height) - 1).bit_length()  # DeepZoom's maxL
    urls: dict[str, list[str]] = {"PIMS tile": [], "IIIF tile": [], "DZI tile": []}
    for level, tx, ty in tiles:
        tier = pyramid.at_level(level)
        tile = tier.tile_region(tx, ty)
        span = tier.tile_width << level
        x, y = tx * span, ty * span
        w, h = min(span, base.width - x), min(span, base.height - y)
        urls["PIMS tile"].append(f"/image/{path}/normalized-tile/level/{level}/tx/{tx}/ty/{ty}.jpg")
        urls["IIIF tile"].append(
            f"/iiif/3/{quote(path, safe='')}/{x},{y},{w},{h}/{tile.width},{tile.height}"
            "/0/default.jpg"
        )
        urls["DZI tile"].append(f"/dzi/{path}_files/{top - level}/{tx}_{ty}.jpeg")
    return urls


def passthrough_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()
        return str(response.headers.get("X-Cytotile-Passthrough"))


def add_protocol_rows(
    section: Section, root: Path, width: int, height: int, seconds: float, requests: int
) -> None:
    """Rows ``<protocol> tile: requests/s`` (ratio: the DESIGN floor, as the section's other
    rows; ``extra['vs_pims']``: against the PIMS route of this run) in ``section``. The three
    protocols take turns, ROUNDS times, and each row is the median of its rounds: a shared
    machine's load drifts, and turns spread the drift over the three."""
    pyramid = Pyramid(width, height)
    write_manifest(root, width, height, pyramid.n_tiers)
    urls = tile_urls(pyramid, sample_tiles(pyramid, N_URLS, seed=8642))
    wrk = shutil.which("wrk")
    server_pin, client_pin = cpu_split()
    loads: dict[str, list[Load]] = {name: [] for name in urls}
    with (
        tempfile.TemporaryDirectory(prefix="bench-protocols-") as tmp,
        running_server(root, server_pin, Path(tmp) / "server.log") as base,
    ):
        for name, paths in urls.items():
            for path in paths[:20]:  # warm-up, and every protocol really passes through
                if passthrough_of(base + path) != "1":
                    raise RuntimeError(f"{path} was not passed through")
            (Path(tmp) / f"{len(name)}-{name[0]}.txt").write_text("\n".join(paths) + "\n")
        for _ in range(ROUNDS):
            for name, paths in urls.items():
                if wrk:
                    listing = Path(tmp) / f"{len(name)}-{name[0]}.txt"
                    wrk_s = max(1, round(seconds / ROUNDS))
                    loads[name].append(run_wrk(wrk, client_pin, base, listing, wrk_s))
                else:
                    loads[name].append(run_python(base, paths, max(20, requests // ROUNDS)))
    pims = statistics.median(rps(load) for load in loads["PIMS tile"])
    for name, runs in loads.items():
        bad, total = sum(load.bad for load in runs), sum(load.requests for load in runs)
        if bad:
            section.errors.append(f"{name}: {bad} of {total} requests failed")
        value = statistics.median(rps(load) for load in runs)
        spread = ", ".join(f"{rps(load):.0f}" for load in runs)
        note = (
            f"{value / pims:.2f} x the PIMS route; median of {len(runs)} turns ({spread} req/s); "
            f"{total} requests; {runs[0].how}"
        )
        row = Row(f"{name} (same tiles): requests/s", round(value), "req/s", note=note)
        row.ratio = value / FLOOR_UVICORN_RPS
        row.extra = {
            "vs_pims": round(value / pims, 3),
            "p50_s": statistics.median(load.p50_s for load in runs),
            "p99_s": statistics.median(load.p99_s for load in runs),
        }
        section.rows.append(row)


def rps(load: Load) -> float:
    return load.requests / load.seconds
