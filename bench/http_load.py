"""HTTP: the real server (``cytotile serve``: uvicorn, one worker) under load, on loopback.

The server runs in a child process on the bench's deployed pyramid (the app row's upload). The
load generator is ``wrk`` when it is on PATH (a Lua script walks a list of random tile URLs, one
thread, keep-alive connections, for a fixed time), else a bounded Python client (``asyncio`` +
``httpx2``, keep-alive connections, a fixed number of requests), which is itself a bottleneck.
With two CPUs or more, the server is pinned to one core and wrk to the others (``taskset``).
Every run is bounded in time; the server is killed at the end, even on error. No target: the
DESIGN floor (Starlette + uvicorn serving a raw tile, one core) is printed for reference only
(its HTTP stack unknown); ``bench/tile_path.py`` measures a floor in the same run. Each server's
HTTP parser and event loop (``httptools/uvloop`` or ``h11/asyncio``: uvicorn's ``auto``
picks httptools and uvloop when installed) are read from the native modules it has loaded.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import child_env
from bench.app_path import ORIGINAL_NAME, UPLOAD_ID, write_manifest
from bench.common import Row, Section
from bench.tiles import sample_tiles
from cytotile.pyramid import Pyramid

TITLE = "HTTP (uvicorn, one worker, loopback)"
FLOOR_UVICORN_RPS = 9_700.0  # DESIGN.md, "Measured floors": Starlette + uvicorn, raw tile, 1 core
FLOOR_NGINX_RPS = 37_700.0
CONNECTIONS = 32
ROW_TIMEOUT_S = 60.0  # hard limit of one measured row
START_TIMEOUT_S = 20.0
N_URLS = 5000  # distinct random tiles in the URL list (walked in a cycle)

WRK_SCRIPT = """
local paths, i = {}, 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Load:
    requests: int
    seconds: float
    p50_s: float
    p99_s: float
    bad: int  # non-2xx answers and socket errors
    how: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_split() -> tuple[list[str], list[str]]:
    """``taskset`` prefixes: the server on the last CPU, the load generator on the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return [], []
    others = ",".join(str(c) for c in cpus[:-1])
    return ["taskset", "-c", str(cpus[-1])], ["taskset", "-c", others]


def server_stack(pid: int) -> str:
    """The HTTP parser and event loop of a uvicorn process, from its loaded native modules."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "HTTP stack unknown"
    http = "httptools" if "/httptools/" in maps else "h11"
    return http + ("/uvloop" if "/uvloop/" in maps else "/asyncio")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far: a server's cost per request, which
    other processes on a shared machine disturb less than its requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()
        return int(response.status)


@contextmanager
def running_server(
    root: Path,
    pin: list[str],
    log: Path,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    env: dict[str, str] | None = None,
    module: list[str] | None = None,
) -> Iterator[str]:
    """The base URL of ``cytotile serve`` on a free loopback port; killed on exit.
    ``on_start``: given the server's process once it answers (its pid, for its peak RSS).
    ``env``: more variables (CYTOTILE_*); ``module``: another server (``-m`` and its
    arguments, given ``--port`` last), answering ``/info`` too."""
    port = free_port()
    serve = module or ["cytotile.cli", "serve", "--root", str(root), "--host", "127.0.0.1"]
    cmd = [*pin, sys.executable, "-m", *serve, "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as err:
        # uvicorn's access log (stdout) is discarded, but still written by the server
        # measure serving, not logging (unless env asks for the log)
        env = {**child_env(), "CYTOTILE_ACCESS_LOG": "0", **(env or {})}
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-500:]
                raise RuntimeError(f"server exited with {proc.returncode}: {tail}")
            try:
                if get(base + "/info") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server did not answer /info in {START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        if on_start is not None:
            on_start(proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def run_wrk(wrk: str, pin: list[str], base: str, urls: Path, seconds: int) -> Load:
    script = urls.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    cmd = [*pin, wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s"]
    cmd += ["-s", str(script), base, "--", str(urls)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=ROW_TIMEOUT_S)
    if done.returncode:
        raise RuntimeError(f"wrk exited with {done.returncode}: {done.stderr[-300:]}")
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {done.stdout[-300:]} {done.stderr[-300:]}")
    n, duration_us, p50_us, p99_us, status, socket_errors = map(int, line.split()[1:])
    how = f"wrk, 1 thread, {CONNECTIONS} connections, {seconds} s"
    return Load(n, duration_us / 1e6, p50_us / 1e6, p99_us / 1e6, status + socket_errors, how)


def run_python(base: str, paths: list[str], n: int) -> Load:
    import httpx2

    async def main() -> tuple[float, list[float], int]:
        limits = httpx2.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        latencies: list[float] = []
        bad = 0
        todo = iter([paths[i % len(paths)] for i in range(n)])
        async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=10) as client:

            async def worker() -> None:
                nonlocal bad
                for path in todo:
                    start = time.perf_counter()
                    try:
                        response = await client.get(path)
                        ok = response.status_code == 200
                    except httpx2.HTTPError:
                        ok = False
                    latencies.append(time.perf_counter() - start)
                    bad += not ok

            start = time.perf_counter()
            workers = asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
            await asyncio.wait_for(workers, ROW_TIMEOUT_S)
            return time.perf_counter() - start, latencies, bad

    seconds, latencies, bad = asyncio.run(main())
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    how = f"Python client (asyncio + httpx2, itself a bottleneck), {CONNECTIONS} connections"
    return Load(len(latencies), seconds, cuts[49], cuts[98], bad, how)


def add_rows(section: Section, name: str, load: Load, stack: str) -> None:
    rps = load.requests / load.seconds
    if load.bad:
        section.errors.append(f"{name}: {load.bad} of {load.requests} requests failed")
    note = f"{load.requests} requests in {load.seconds:.1f} s; {load.how}; {stack}"
    section.rows += [
        Row(f"{name}: requests/s", round(rps), "req/s", rps / FLOOR_UVICORN_RPS, note=note),
        Row(f"{name}: p50 latency", load.p50_s, "s"),
        Row(f"{name}: p99 latency", load.p99_s, "s"),
    ]


def bench_http(
    root: Path, width: int, height: int, seconds: float, requests: int, seed: int = 4321
) -> Section:
    """``seconds`` bounds a wrk row, ``requests`` a Python client row (decoded: fewer)."""
    section = Section(TITLE, "vs DESIGN floor")
    try:
        import cytotile.api.app  # noqa: F401
    except ImportError as exc:
        note = f"skipped: {exc.name or exc} not available"
        section.rows.append(Row("passthrough .jpg: requests/s", None, "req/s", note=note))
        return section
    pyramid = Pyramid(width, height)
    write_manifest(root, width, height, pyramid.n_tiers)  # (already there after the app row)
    prefix = f"/image/{UPLOAD_ID}/{ORIGINAL_NAME}/normalized-tile/level"
    tiles = sample_tiles(pyramid, N_URLS, seed)
    passthrough = [f"{prefix}/{lvl}/tx/{tx}/ty/{ty}.jpg" for lvl, tx, ty in tiles]
    decoded = [f"{path}?gammas=1.2" for path in passthrough]
    wrk = shutil.which("wrk")
    server_pin, client_pin = cpu_split()
    stack = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-http-") as tmp,
        running_server(
            root, server_pin, Path(tmp) / "server.log", lambda p: stack.append(server_stack(p.pid))
        ) as base,
    ):
        for name, paths, time_share, count_share in (
            ("passthrough .jpg", passthrough, 1.0, 1.0),
            ("decoded .jpg?gammas=1.2", decoded, 0.5, 0.25),
        ):
            for path in paths[:20]:  # warm-up: pyramid opened, first decodes, page cache
                if get(base + path) != 200:
                    raise RuntimeError(f"{path} did not answer 200")
            if wrk:
                urls = Path(tmp) / f"urls-{len(section.rows)}.txt"
                urls.write_text("\n".join(paths) + "\n")
                wrk_s = max(1, round(seconds * time_share))  # wrk takes whole seconds
                load = run_wrk(wrk, client_pin, base, urls, wrk_s)
            else:
                load = run_python(base, paths, max(20, int(requests * count_share)))
            add_rows(section, name, load, stack[0])
    pinned = f"server on CPU {server_pin[-1]}" if server_pin else "server not pinned"
    note = f"DESIGN.md, a reference only (nginx static {FLOOR_NGINX_RPS:,.0f}); {pinned}"
    floor = Row("DESIGN floor: Starlette + uvicorn, raw tile", FLOOR_UVICORN_RPS, "req/s", 1.0)
    floor.note = note
    section.rows.append(floor)
    return section
