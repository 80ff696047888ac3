"""Conversion: cytotile ``convert()`` against a plain libvips pyramid of the same slide.

Each conversion runs in its own child process (``python -m bench.conversion KIND SRC OUT``) that
times the call itself and reports its own peak RSS (VmHWM of /proc/self/status), so the
numbers include libvips's buffers but not the parent's or another run's. (Not ``ru_maxrss``:
after exec it starts from the parent's peak, which subprocess's vfork hands down.)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import ROOT, child_env
from bench.common import Row, Section

TIME_TARGET = 0.5  # cytotile / libvips (issue 8: the JPEG path skips the full decode)
MEMORY_TARGET_MB = 500
KINDS = ("libvips", "cytotile")


def quality() -> int:
    """The product's pyramid quality (CYTOTILE_JPEG_QUALITY), used by both peers alike."""
    from cytotile.settings import ImportSettings, from_env

    return from_env(ImportSettings).jpeg_quality


PYRAMID_KEY = "upload-bench/processed/visualisation.PYRTIFF"  # as an import would store it


def convert_once(kind: str, src: Path, out: Path) -> dict[str, float]:
    """Run in the child: one conversion, timed; returns seconds, peak RSS and output size."""
    import pyvips

    q = quality()  # the settings read before the clock (3.5 ms of imports, either peer's)
    if kind == "cytotile":  # its libraries imported before the clock, as pyvips is for libvips
        import numpy  # noqa: F401
        import simplejpeg  # noqa: F401
        import tifffile  # noqa: F401

        from bench.slide import TiffSource
        from cytotile.importer import _jpegdct  # noqa: F401  (its C codec)
        from cytotile.importer.convert import convert

    start, cpu_start = time.perf_counter(), cpu_seconds()
    if kind == "cytotile":
        convert(TiffSource(src), out, quality=q)
    elif kind == "libvips":
        image = pyvips.Image.new_from_file(str(src), access="sequential", fail_on="error")
        image.tiffsave(
            str(out),
            tile=True,
            tile_width=256,
            tile_height=256,
            pyramid=True,
            compression="jpeg",
            Q=q,
            bigtiff=True,
        )
    else:
        raise ValueError(f"unknown conversion {kind!r}")
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    size_mb = out.stat().st_size / 1e6
    return {"seconds": seconds, "cpu": cpu, "peak_mb": own_peak_mb(), "size_mb": size_mb}


def cpu_seconds() -> float:
    """This process's CPU time so far, user + system, every thread (libvips's workers too):
    what a loaded machine disturbs less than wall time."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def own_peak_mb() -> float:
    """This process's own high-water mark of resident memory (VmHWM), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_child(kind: str, src: Path, out: Path, timeout: float = 900) -> dict[str, float]:
    """One conversion in a child; cytotile's in the environment its import step runs in
    (``sandbox.step_environment``: what the import function's conversion process gets)."""
    from cytotile.importer.sandbox import step_environment

    env = child_env()
    # a new file, as an import writes (truncating the last run's, 2 MB for CMU-1, cost the
    # peer its page cache's pages inside its clock: 2 ms)
    out.unlink(missing_ok=True)
    if kind == "cytotile":
        env = {**step_environment(), **env}  # the deployment's own settings win, as there
    proc = subprocess.run(
        [sys.executable, "-m", "bench.conversion", kind, str(src), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"{kind} conversion failed ({proc.returncode}): {tail}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def outputs(workdir: Path) -> dict[str, Path]:
    """Where each conversion writes: the cytotile pyramid at its storage key under ``workdir``
    (then served), the libvips one beside it (the OpenSlide peer's generic pyramidal TIFF)."""
    return {"cytotile": workdir / PYRAMID_KEY, "libvips": workdir / "libvips-pyramid.tif"}


def settle() -> None:
    """What earlier steps wrote (the slide generated, other conversions' pyramids: hundreds of
    MB) flushed to disk before a timing: the kernel writes dirty pages back up to 30 s later, in
    whichever peer's clock is running then."""
    import os

    os.sync()


def bench_conversion(src: Path, workdir: Path, repeats: int) -> Section:
    section = Section("Conversion (whole slide, child process each)", "vs libvips")
    settle()
    paths = outputs(workdir)
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    for _ in range(repeats):
        for kind in KINDS:  # alternate, so that both see the same page cache and machine load
            try:
                runs[kind].append(run_child(kind, src, paths[kind]))
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                section.errors.append(str(exc))
    if not all(runs.values()):
        return section
    seconds = {k: statistics.median(r["seconds"] for r in runs[k]) for k in KINDS}
    peak = {k: max(r["peak_mb"] for r in runs[k]) for k in KINDS}
    size = {k: runs[k][-1]["size_mb"] for k in KINDS}
    ratio = seconds["cytotile"] / seconds["libvips"]
    cpu = {k: statistics.median(r["cpu"] for r in runs[k]) for k in KINDS}
    cpu_ratio = cpu["cytotile"] / cpu["libvips"]
    n = {k: "median of " + " / ".join(f"{r['seconds']:.1f}" for r in runs[k]) + " s" for k in KINDS}
    section.rows += [
        Row("libvips tiffsave pyramid: time", seconds["libvips"], "s", 1.0, note=n["libvips"]),
        Row(
            "cytotile convert(): time",
            seconds["cytotile"],
            "s",
            ratio,
            target=f"<= {TIME_TARGET}x libvips",
            ok=ratio <= TIME_TARGET,
            note=n["cytotile"],
        ),
        Row("libvips tiffsave pyramid: CPU time", cpu["libvips"], "s", 1.0, note="user+sys"),
        Row(
            "cytotile convert(): CPU time",
            cpu["cytotile"],
            "s",
            cpu_ratio,
            target=f"<= {TIME_TARGET}x libvips",
            ok=cpu_ratio <= TIME_TARGET,
            note="user+sys, median",
        ),
        Row("libvips tiffsave pyramid: peak RSS", peak["libvips"], "MB", 1.0, note="max of runs"),
        Row(
            "cytotile convert(): peak RSS",
            peak["cytotile"],
            "MB",
            peak["cytotile"] / peak["libvips"],
            target=f"< {MEMORY_TARGET_MB} MB",
            ok=peak["cytotile"] < MEMORY_TARGET_MB,
            note="max of runs",
        ),
        Row("libvips pyramid: file size", size["libvips"], "MB", 1.0),
        Row(
            "cytotile pyramid: file size",
            size["cytotile"],
            "MB",
            size["cytotile"] / size["libvips"],
        ),
    ]
    return section


def main(argv: list[str]) -> int:
    kind, src, out = argv
    print(json.dumps(convert_once(kind, Path(src), Path(out))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
