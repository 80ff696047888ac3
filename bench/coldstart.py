"""The tile function's cold start (import time in a fresh interpreter) and its unzipped size."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import ROOT, SRC
from bench.common import Row, Section
from bench.sizes import size_rows

IMPORT_TARGET_S = 0.4
PROXY_IMPORTS = (
    "boto3, numpy, simplejpeg, pyvips, starlette.applications, mangum, "
    "cytotile.tiff.reader, cytotile.storage.s3"
)


def time_import(statement: str, pythonpath: list[Path], runs: int) -> tuple[float, float]:
    """Median (process wall time, in-process import time) of ``statement`` in fresh processes."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {"PYTHONPATH": ":".join(str(p) for p in pythonpath), "PATH": "/usr/bin:/bin"}
    walls, imports = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        walls.append(time.perf_counter() - start)
        imports.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(walls), statistics.median(imports)


def _importtime(statement: str, pythonpath: list[Path]) -> list[tuple[int, int, str]]:
    """(depth, cumulative µs, module) of every import ``python -X importtime`` reports."""
    env = {"PYTHONPATH": ":".join(str(p) for p in pythonpath), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = []
    for line in out.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip()) - 1) // 2
            found.append((depth, int(parts[1]), name.strip()))
    return found


def top_imports(statement: str, pythonpath: list[Path], n: int = 5) -> str:
    """The slowest imports of ``statement`` (cumulative, two levels deep), startup excluded."""
    startup = {name for _, _, name in _importtime("pass", pythonpath)}
    found = [
        (us, name)
        for depth, us, name in _importtime(statement, pythonpath)
        if depth <= 1 and name not in startup
    ]
    found.sort(reverse=True)
    return ", ".join(f"{name} {us / 1000:.0f}" for us, name in found[:n]) + " (ms)"


def bench_coldstart(runs: int) -> Section:
    section = Section("Tile function: cold start and size", "")
    app = ROOT / "functions/tile/app.py"
    if app.is_file():
        wall, imported = time_import("import app", [app.parent, SRC], runs)
        slowest = top_imports("import app", [app.parent, SRC])
        section.rows.append(
            Row(
                "cold start: fresh process + import app",
                wall,
                "s",
                target=f"< {IMPORT_TARGET_S * 1000:.0f} ms",
                ok=wall < IMPORT_TARGET_S,
                note=f"median of {runs}; import alone {imported * 1e3:.0f} ms; slowest: {slowest}",
            )
        )
    else:
        section.rows.append(
            Row(
                "cold start: import app",
                None,
                "s",
                target=f"< {IMPORT_TARGET_S * 1000:.0f} ms",
                note="not available yet (no functions/tile/app.py)",
            )
        )
    wall, imported = time_import(f"import {PROXY_IMPORTS}", [SRC], runs)
    slowest = top_imports(f"import {PROXY_IMPORTS}", [SRC])
    section.rows.append(
        Row(
            "proxy: fresh process + core tile imports",
            wall,
            "s",
            note=f"median of {runs}; import alone {imported * 1e3:.0f} ms; slowest: {slowest}",
        )
    )
    section.rows += size_rows()
    return section
