"""A passthrough tile's HTTP path against the Python floor, in one run (issue 8, point 4).

The floor is Starlette serving the same tile bytes from a dict (one route, no middleware). In
the same run, on the same random tiles: in-process ASGI calls (no socket: the app's own cost),
the real server under load (uvicorn, one core; the floor, cytotile without and with its tile
fast path, access log off and on; rounds alternate and each keeps its best, the machine being
shared), and a warm Lambda invocation through Mangum (an API Gateway HTTP API event) against a
bare Mangum app returning the same bytes. large_image passing the same stored tiles through is a
server of the same rounds when the ``bench-peers`` extra is installed (``bench/large_image_peer``:
its row says whether its answers were the stored bytes; when it cannot read cytotile's pyramid,
as with tiles coded with four Huffman tables (SOF1), it serves the conversion section's libvips
pyramid of the slide, on the same tile grid). Ratios: floor / cytotile time, or
cytotile / floor requests per second (1.0 = the floor). Every server is uvicorn's ``auto``
stack (``cytotile serve`` picks the same: ``api/head_deadline.py``); each row names the parser
and loop its process loaded, and servers on different stacks are an error of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import large_image_peer
from bench.app_path import ORIGINAL_NAME, UPLOAD_ID, write_manifest
from bench.common import Row, Section
from bench.conversion import outputs
from bench.http_load import (
    N_URLS,
    cpu_seconds,
    cpu_split,
    get,
    run_python,
    run_wrk,
    running_server,
    server_stack,
)
from bench.tiles import sample_tiles
from cytotile.manifest import pyramid_key

TITLE = "Passthrough tile path vs the Starlette floor (issue 8)"
TARGET_FLOOR = 0.8
TARGET_LARGE_IMAGE = 1.5
ROUNDS = 5  # alternated rounds of the HTTP rows (3 in quick runs), each keeps its best
PREFIX = f"/image/{UPLOAD_ID}/{ORIGINAL_NAME}/normalized-tile/level"
URL = re.compile(r"/level/(\d+)/tx/(\d+)/ty/(\d+)\.jpg$")


def tile_paths(width: int, height: int, n: int) -> list[str]:
    from cytotile.pyramid import Pyramid

    tiles = sample_tiles(Pyramid(width, height), n, seed=8642)
    return [f"{PREFIX}/{lvl}/tx/{tx}/ty/{ty}.jpg" for lvl, tx, ty in tiles]


def tile_bytes(root: Path, paths: list[str]) -> dict[str, bytes]:
    from cytotile.storage import LocalStorage
    from cytotile.tiff.reader import open_pyramid

    reader = open_pyramid(LocalStorage(root), pyramid_key(UPLOAD_ID))
    found = {}
    for path in paths:
        match = URL.search(path)
        assert match is not None
        level, tx, ty = map(int, match.groups())
        found[path] = reader.jpeg_tile(0, level, tx, ty)
    return found


def floor_app(tiles: dict[str, bytes]) -> Any:
    """Starlette serving bytes from a dict: the floor of a Python ASGI tile server."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def tile(request: Request) -> Response:
        return Response(tiles[request.scope["path"]], media_type="image/jpeg")

    async def info(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    return Starlette(routes=[Route("/info", info), Route("/image/{rest:path}", tile)])


def cytotile_app(root: Path, fast: bool) -> Any:
    from cytotile.api.app import create_app
    from cytotile.settings import ServerSettings
    from cytotile.storage import LocalStorage

    return create_app(ServerSettings(root=str(root), tile_fast_path=fast), LocalStorage(root))


def asgi_seconds(app: Any, paths: list[str]) -> float:
    """Median seconds of one in-process GET (a warm-up pass over the paths first)."""

    async def one(path: str) -> int:
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            status = message.get("status", status)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": b"", "headers": [(b"host", b"bench"), (b"accept", b"*/*")],
            "client": ("127.0.0.1", 1), "server": ("bench", 80), "state": {},
        }  # fmt: skip
        await app(scope, receive, send)
        return status

    async def run() -> float:
        for path in paths:
            if await one(path) != 200:
                raise RuntimeError(f"{path} did not answer 200 in process")
        times = []
        for path in paths:
            start = time.perf_counter_ns()
            await one(path)
            times.append(time.perf_counter_ns() - start)
        return statistics.median(times) / 1e9

    return asyncio.run(run())


def lambda_seconds(app: Any, paths: list[str]) -> float:
    """Median seconds of one warm invocation of ``Mangum(app)`` (API Gateway HTTP API)."""
    loop = asyncio.new_event_loop()  # Mangum runs on the current loop: ours, closed after
    asyncio.set_event_loop(loop)
    try:
        return _invocations(app, paths)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _invocations(app: Any, paths: list[str]) -> float:
    from mangum import Mangum

    handler = Mangum(app, lifespan="off")

    def event(path: str) -> dict[str, Any]:
        http = {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1"}
        return {
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"host": "tiles.example", "accept": "image/webp,*/*"},
            "requestContext": {"http": http, "stage": "$default", "requestId": "bench",
                               "domainName": "tiles.example"},
            "isBase64Encoded": False,
        }  # fmt: skip

    events = [event(p) for p in paths]
    for ev in events:  # warm
        answer = handler(ev, None)
        if answer["statusCode"] != 200 or not base64.b64decode(answer["body"]):
            raise RuntimeError(f"{ev['rawPath']} did not answer 200 through Mangum")
    times = []
    for ev in events:
        start = time.perf_counter_ns()
        handler(ev, None)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e9


def _time_rows(section: Section, kind: str, floor_s: float, pairs: list[tuple[str, float]]) -> None:
    section.rows.append(Row(f"{kind}: Starlette floor (dict)", floor_s, "s", 1.0))
    for name, seconds in pairs:
        section.rows.append(Row(f"{kind}: {name}", seconds, "s", floor_s / seconds))


def bench_tile_path(root: Path, width: int, height: int, seconds: float, n: int) -> Section:
    """``seconds``: one load row (wrk); ``n``: tiles of the in-process and Lambda rows."""
    from cytotile.pyramid import Pyramid

    section = Section(TITLE, "vs floor")
    write_manifest(root, width, height, Pyramid(width, height).n_tiers)
    paths = tile_paths(width, height, max(n, 20))
    tiles = tile_bytes(root, paths)
    floor = floor_app(tiles)
    full, fast = cytotile_app(root, False), cytotile_app(root, True)
    note = f"median of {len(paths)} random tiles"
    floor_s = asgi_seconds(floor, paths)
    pairs = [("cytotile full app (fast path off)", asgi_seconds(full, paths))]
    pairs.append(("cytotile fast path", asgi_seconds(fast, paths)))
    _time_rows(section, "in-process ASGI", floor_s, pairs)
    floor_s = lambda_seconds(floor, paths)
    pairs = [("cytotile full app (fast path off)", lambda_seconds(full, paths))]
    pairs.append(("cytotile fast path", lambda_seconds(fast, paths)))
    _time_rows(section, "warm Lambda via Mangum", floor_s, pairs)
    for row in section.rows:
        row.note = note
    http_rows(section, root, width, height, seconds)
    return section


def http_rows(section: Section, root: Path, width: int, height: int, seconds: float) -> None:
    paths = tile_paths(width, height, N_URLS)
    wrk = shutil.which("wrk")
    server_pin, client_pin = cpu_split()
    servers = {
        "Starlette floor (dict), access log off": {"module": "floor"},
        "cytotile full app (fast path off), access log off": {"CYTOTILE_TILE_FAST_PATH": "0"},
        "cytotile fast path, access log off": {},
        "cytotile fast path, access log on": {"CYTOTILE_ACCESS_LOG": "1"},
    }
    peer = "large_image passthrough"  # its tiff source, access log off
    missing = large_image_peer.unavailable()
    how_peer = missing or ""
    if missing is None:
        pyramid = root / pyramid_key(UPLOAD_ID)
        readable, how_peer = large_image_peer.passthrough_check(
            pyramid, tile_bytes(root, paths), width, height
        )
        other = outputs(root)["libvips"]  # the conversion section's pyramid of the same slide
        if not readable and other.is_file():  # its stored tiles, on the same tile grid
            try:
                stored = large_image_peer.stored_tiles(other, paths)
                readable, how = large_image_peer.passthrough_check(other, stored, width, height)
            except ValueError as exc:
                how = str(exc)
            how_peer, pyramid = f"{how_peer}; on libvips's pyramid instead: {how}", other
        if readable:
            servers[peer] = {"module": "large_image", "pyramid": str(pyramid)}
    measured: dict[str, list[int]] = {name: [] for name in servers}
    stacks: dict[str, str] = {}
    pids: dict[str, int] = {}
    cpu_us: dict[str, list[float]] = {name: [] for name in servers}  # server CPU a request
    with tempfile.TemporaryDirectory(prefix="bench-tile-path-") as tmp, ExitStack() as stack:
        urls = Path(tmp) / "urls.txt"
        urls.write_text("\n".join(paths) + "\n")
        bases = {}
        for k, (name, env) in enumerate(servers.items()):
            module = None
            if env.get("module") == "large_image":
                module = ["bench.large_image_peer", "--pyramid", env["pyramid"]]
                env = {}
            elif env.get("module"):
                module = ["bench.tile_path", "--root", str(root), "--urls", str(urls)]
                env = {}
            log = Path(tmp) / f"server-{k}.log"

            def started(proc: Any, name: str = name) -> None:
                stacks[name], pids[name] = server_stack(proc.pid), proc.pid

            server = running_server(root, server_pin, log, started, env=env, module=module)
            bases[name] = stack.enter_context(server)
        for base in bases.values():
            for path in paths[:50]:  # warm: pyramid opened, paths checked, page cache
                if get(base + path) != 200:
                    raise RuntimeError(f"{base}{path} did not answer 200")
        how, rounds = "", ROUNDS if seconds > 3 else 3
        for _ in range(rounds):
            for name, base in bases.items():
                cpu_before = cpu_seconds(pids[name])
                if wrk:
                    load = run_wrk(wrk, client_pin, base, urls, max(1, round(seconds / 3)))
                else:
                    load = run_python(base, paths, 2000)
                if load.bad:
                    section.errors.append(f"HTTP {name}: {load.bad} bad answers")
                measured[name].append(round(load.requests / load.seconds))
                used = cpu_seconds(pids[name]) - cpu_before
                cpu_us[name].append(round(used / max(1, load.requests) * 1e6, 1))
                how = load.how
    best = {name: float(max(values)) for name, values in measured.items()}
    floor_name = "Starlette floor (dict), access log off"
    floor_rps = best.pop(floor_name)
    pinned = f"server on CPU {server_pin[-1]}" if server_pin else "server not pinned"
    note = f"best of {rounds} alternated rounds; {how}; {pinned}; {stacks[floor_name]}"
    floor = Row(f"HTTP: {floor_name}", round(floor_rps), "req/s", 1.0, note=note)
    floor.note += f"; server CPU {min(cpu_us[floor_name])} us a request (least of the rounds)"
    floor.extra.update(rounds=measured[floor_name], cpu_us=cpu_us[floor_name])
    section.rows.append(floor)
    for name, rps in best.items():
        note = f"{stacks[name]}; server CPU {min(cpu_us[name])} us a request"
        row = Row(f"HTTP: {name}", round(rps), "req/s", rps / floor_rps, note=note)
        row.extra.update(rounds=measured[name], cpu_us=cpu_us[name])
        if name == "cytotile fast path, access log off":
            row.target, row.ok = f">= {TARGET_FLOOR}x floor", rps / floor_rps >= TARGET_FLOOR
        section.rows.append(row)
    if len(set(stacks.values())) > 1:
        section.errors.append(f"HTTP servers on different stacks: {stacks}")
    large = best.pop(peer, None)
    fast = best["cytotile fast path, access log off"]
    if large is None:
        section.rows.append(Row(f"HTTP: {peer}", None, "req/s", note=f"skipped: {how_peer}"))
    ratio = fast / large if large else None
    if large:
        cpu_ratio = min(cpu_us[peer]) / min(cpu_us["cytotile fast path, access log off"])
        how_peer += f"; both {stacks[peer]}; in server CPU a request {cpu_ratio:.2f}x"
    section.rows.append(
        Row(
            "HTTP: cytotile fast path / large_image",
            ratio,
            "x",
            ratio,
            target=f">= {TARGET_LARGE_IMAGE}x",
            ok=None if ratio is None else ratio >= TARGET_LARGE_IMAGE,
            note=how_peer if large else "not measured",
        )
    )


def main() -> None:
    """The floor server: ``python -m bench.tile_path --root R --urls FILE --port P``."""
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--urls", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    paths = args.urls.read_text().split()
    app = floor_app(tile_bytes(args.root, paths))
    # uvicorn's auto stack: httptools and uvloop when installed, as ``cytotile serve``
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
