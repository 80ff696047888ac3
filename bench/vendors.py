"""Vendor slides read through OpenSlide (issue 6): the import of an NDPI and of a DICOM WSI
series (wall time, peak RSS of the isolated steps, in a fresh process) against OpenSlide's own
read of the same level 0 (every 512 x 512 region, in a fresh process: time and peak RSS). The
real samples of ``../shared/samples`` are used; a missing sample skips its rows."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import ROOT, child_env
from bench.common import Row, Section

TITLE = "Vendor slides (import vs OpenSlide's read of level 0; fresh processes)"
SAMPLES = ROOT.parent / "shared" / "samples"
SLIDES = {  # name -> (named file, the other files of the image)
    "NDPI test3-DAPI.ndpi": ("test3-DAPI.ndpi", ()),
    "DICOM boxes series": ("boxes_0.dcm", ("boxes_1.dcm",)),
}
IMPORT = """
import json, resource, sys, time
from pathlib import Path
from cytotile.importer.flow import import_file
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
start = time.perf_counter()
m = import_file(LocalStorage(Path(sys.argv[1])), Path(sys.argv[2]),
                settings=ImportSettings(timeout_s=600, memory_mb=2048))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
method = (m.pyramid or {}).get("method", "")
print(json.dumps({"seconds": seconds, "peak_mb": peak, "status": m.status.value,
                  "reason": m.reason, "method": method, "size": [m.image["width"],
                  m.image["height"]] if m.image else None}))
"""
READ = """
import json, resource, sys, time
import openslide
start = time.perf_counter()
with openslide.OpenSlide(sys.argv[1]) as slide:
    width, height = slide.dimensions
    for y in range(0, height, 512):
        for x in range(0, width, 512):
            slide.read_region((x, y), 0, (min(512, width - x), min(512, height - y)))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "size": [width, height]}))
"""


def _run(code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_vendors(workdir: Path, samples: Path = SAMPLES) -> Section:
    section = Section(TITLE, "vs OpenSlide reading level 0")
    folder = workdir / "vendors"
    shutil.rmtree(folder, ignore_errors=True)
    for label, (named, others) in SLIDES.items():
        files = [samples / n for n in (named, *others)]
        if not all(f.is_file() for f in files):
            section.rows.append(Row(f"{label}: import", None, "s", note="sample absent"))
            continue
        image = folder / label.split()[0].lower()  # the image's files alone in one folder
        image.mkdir(parents=True)
        for f in files:
            shutil.copyfile(f, image / f.name)
        read = _run(READ, str(image / named))
        imported = _run(IMPORT, str(folder / f"root-{image.name}"), str(image / named))
        if imported["status"] != "DEPLOYED":
            section.errors.append(f"{label} ended {imported['status']}: {imported['reason']}")
            continue
        w, h = read["size"]
        note = f"{w}x{h}, {imported['method']}"
        ratio = imported["seconds"] / read["seconds"] if read["seconds"] else None
        memory = imported["peak_mb"] / read["peak_mb"] if read["peak_mb"] else None
        section.rows += [
            Row(f"{label}: OpenSlide read of level 0", read["seconds"], "s", 1.0, note=note),
            Row(f"{label}: import (detect, extract, convert)", imported["seconds"], "s", ratio),
            Row(f"{label}: OpenSlide read peak RSS", read["peak_mb"], "MB", 1.0),
            Row(f"{label}: import peak RSS", imported["peak_mb"], "MB", memory),
        ]
    return section
