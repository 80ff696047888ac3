"""Archive imports, each in a fresh process (wall time, and the peak RSS of its isolated steps):
a small ZIP of three images against importing the same three files one by one (what the archive
adds: detection, safe extraction, format detection of the members), and a GiB-of-zeros gzip
(how fast and in how little memory a bomb is refused)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

from bench import SRC
from bench.common import Row, Section

TITLE = "Archives (import in a fresh process; peak RSS of the isolated steps)"
PROBE = """
import json, resource, sys, time
from pathlib import Path
from cytotile.importer.flow import import_file
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
storage = LocalStorage(Path(sys.argv[1]))
settings = ImportSettings(timeout_s=600, memory_mb=2048)
start = time.perf_counter()
manifests = [import_file(storage, Path(p), settings=settings) for p in sys.argv[2:]]
seconds = time.perf_counter() - start
statuses = [m.status.value for m in manifests]
statuses += [c["status"] for m in manifests for c in m.children]
# the import steps' peak, an upper bound: a child's count starts from this process's at spawn
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "statuses": statuses}))
"""


def _probe(root: Path, paths: list[Path]) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(root), *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _images(folder: Path, side: tuple[int, int]) -> list[Path]:
    from cytotile.synthetic import tissue_image

    paths = []
    for seed in range(3):
        path = folder / f"tissue-{side[0]}x{side[1]}-{seed}.jpg"
        if not path.is_file():
            tissue_image(*side, seed=seed).jpegsave(str(path), Q=90)
        paths.append(path)
    return paths


def _zeros_gzip(path: Path, n_mib: int) -> Path:
    """n_mib MiB of zeros in a gzip member, built from one flushed deflate block repeated."""
    one = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = one.compress(bytes(1 << 20)) + one.flush(zlib.Z_FULL_FLUSH)
    body = block * n_mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    path.write_bytes(head + body + struct.pack("<II", 0, (n_mib << 20) & 0xFFFFFFFF))
    return path


def bench_archives(workdir: Path, side: tuple[int, int] = (2000, 1500)) -> Section:
    section = Section(TITLE, "vs the same images imported one by one")
    folder = workdir / "archives"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("root-*"):
        shutil.rmtree(old)
    images = _images(folder, side)
    archive = folder / "three.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in images:
            zf.write(path, f"scans/{path.name}")
    one_by_one = _probe(folder / "root-plain", images)
    zipped = _probe(folder / "root-zip", [archive])
    bomb = _probe(folder / "root-bomb", [_zeros_gzip(folder / "zeros.raw.gz", 1024)])
    if one_by_one["statuses"] != ["DEPLOYED"] * 3:
        section.errors.append(f"plain imports ended {one_by_one['statuses']}")
    if zipped["statuses"] != ["EXTRACTED"] + ["DEPLOYED"] * 3:
        section.errors.append(f"the zip's import ended {zipped['statuses']}")
    if bomb["statuses"] != ["ERROR_EXTRACTION"]:
        section.errors.append(f"the bomb's import ended {bomb['statuses']}")
    size = f"{side[0]}x{side[1]} JPEGs"
    reference = one_by_one["seconds"]
    ratio = zipped["seconds"] / reference if reference else None
    refusal = "ERROR_EXTRACTION"
    section.rows += [
        Row(f"3 {size}, one by one: import", reference, "s", 1.0),
        Row(f"3 {size}, one by one: peak RSS", one_by_one["peak_mb"], "MB"),
        Row("zip of the 3: import (EXTRACTED + 3 DEPLOYED)", zipped["seconds"], "s", ratio),
        Row("zip of the 3: peak RSS", zipped["peak_mb"], "MB"),
        Row("1 GiB of zeros (.gz, 1 MiB): refused in", bomb["seconds"], "s", note=refusal),
        Row("1 GiB of zeros: peak RSS", bomb["peak_mb"], "MB"),
    ]
    return section
