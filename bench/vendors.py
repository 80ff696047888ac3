"""Vendor slides read through OpenSlide (issue 6): the import of an NDPI and of a DICOM WSI
series (wall time, peak RSS of the isolated steps, in a fresh process) against OpenSlide's own
read of the same level 0 (every 512 x 512 region, in a fresh process: time and peak RSS). The
real samples of ``../shared/samples`` are used (a missing sample skips its rows); the DICOM
sample is 16 x 16, so a synthetic series of ``dicom_size`` (two levels of JPEG frames, label,
overview; tests/helpers/dicomfiles.py) is measured too."""

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
STATUS_KB = """
def status_mb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
"""
IMPORT = (
    STATUS_KB
    + """
import json, resource, sys, time
from pathlib import Path
from cytotile.importer.flow import import_file
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
floor = status_mb("VmRSS")  # a forked child starts its peak RSS count here
start = time.perf_counter()
m = import_file(LocalStorage(Path(sys.argv[1])), Path(sys.argv[2]),
                settings=ImportSettings(timeout_s=600, memory_mb=2048))
seconds = time.perf_counter() - start
# the import steps' peak, an upper bound: a child's count starts from this process's at spawn
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
method = (m.pyramid or {}).get("method", "")
print(json.dumps({"seconds": seconds, "peak_mb": peak, "floor_mb": floor,
                  "status": m.status.value,
                  "reason": m.reason, "method": method, "size": [m.image["width"],
                  m.image["height"]] if m.image else None}))
"""
)
READ = (
    STATUS_KB
    + """
import json, sys, time
import openslide
start = time.perf_counter()
with openslide.OpenSlide(sys.argv[1]) as slide:
    width, height = slide.dimensions
    for y in range(0, height, 512):
        for x in range(0, width, 512):
            slide.read_region((x, y), 0, (min(512, width - x), min(512, height - y)))
seconds = time.perf_counter() - start
peak = status_mb("VmHWM")  # this process's own high-water mark (not its parent's, at fork)
print(json.dumps({"seconds": seconds, "peak_mb": peak, "size": [width, height]}))
"""
)


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


def _synthetic_series(folder: Path, size: tuple[int, int]) -> Path:
    from tests.helpers import dicomfiles, synth

    from cytotile.synthetic import tissue_image

    base = synth.to_numpy(tissue_image(*size))
    return dicomfiles.write_wsi_series(folder, base)[0]


def bench_vendors(
    workdir: Path, samples: Path = SAMPLES, dicom_size: tuple[int, int] | None = (4000, 3000)
) -> Section:
    section = Section(TITLE, "vs OpenSlide reading level 0")
    folder = workdir / "vendors"
    shutil.rmtree(folder, ignore_errors=True)
    images: dict[str, Path] = {}
    for label, (named, others) in SLIDES.items():
        files = [samples / n for n in (named, *others)]
        if not all(f.is_file() for f in files):
            section.rows.append(Row(f"{label}: import", None, "s", note="sample absent"))
            continue
        image = folder / label.split()[0].lower()  # the image's files alone in one folder
        image.mkdir(parents=True)
        for f in files:
            shutil.copyfile(f, image / f.name)
        images[label] = image / named
    if dicom_size is not None:
        label = f"DICOM synthetic series {dicom_size[0]}x{dicom_size[1]}"
        images[label] = _synthetic_series(folder / "dicom-synthetic", dicom_size)
    for label, named_path in images.items():
        _measure(section, folder, label, named_path)
    return section


def _measure(section: Section, folder: Path, label: str, named: Path) -> None:
    """Rows of one image: OpenSlide's read of level 0, then cytotile's import."""
    read = _run(READ, str(named))
    imported = _run(IMPORT, str(folder / f"root-{named.parent.name}"), str(named))
    if imported["status"] != "DEPLOYED":
        section.errors.append(f"{label} ended {imported['status']}: {imported['reason']}")
        return
    w, h = read["size"]
    note = f"{w}x{h}, {imported['method']}"
    ratio = imported["seconds"] / read["seconds"] if read["seconds"] else None
    memory = imported["peak_mb"] / read["peak_mb"] if read["peak_mb"] else None
    section.rows += [
        Row(f"{label}: OpenSlide read of level 0", read["seconds"], "s", 1.0, note=note),
        Row(f"{label}: import (detect, extract, convert)", imported["seconds"], "s", ratio),
        Row(f"{label}: OpenSlide read peak RSS", read["peak_mb"], "MB", 1.0),
        Row(
            f"{label}: import peak RSS",
            imported["peak_mb"],
            "MB",
            memory,
            note=f"isolated steps; counts from the {imported['floor_mb']:.0f} MB forked",
        ),
    ]
