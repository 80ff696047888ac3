"""``python -m bench [--quick] [--size WxH]``: one run, a table, ``bench/results/latest.json``.

Speed never fails the run (it is a benchmark); a measurement that errors makes it exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench import CACHE, RESULTS
from bench.common import Section


@dataclass
class Config:
    width: int
    height: int
    cache: Path  # where the synthetic slide is kept between runs
    workdir: Path  # conversions' outputs (rewritten by every run)
    n_tiles: int = 2000
    check_tiles: int = 200  # random level-0 tiles compared with OpenSlide
    repeats: int = 3  # conversions of each kind (alternated; median)
    cold_runs: int = 5
    s3_tiles: int = 60  # moto copies the whole object on every GET: keep this small
    app_tiles: int = 500
    import_runs: int = 5
    http: bool = True  # the HTTP section (a real server under load)
    http_seconds: float = 10.0  # one wrk row
    http_requests: int = 20000  # one Python client row, when wrk is not on PATH
    mix_seconds: float = 60.0  # the load mix of tiles, thumbs and windows (issue 12)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def guarded(title: str, fn: Callable[[], Section]) -> Section:
    """A section, or the error that stopped it (which makes the run exit non-zero)."""
    start = time.perf_counter()
    try:
        section = fn()
    except Exception as exc:
        section = Section(title, "", errors=[f"{type(exc).__name__}: {exc}"])
    log(f"{title}: {time.perf_counter() - start:.1f} s")
    return section


def run(cfg: Config) -> list[Section]:
    from bench.app_path import bench_app
    from bench.archives import bench_archives
    from bench.coldstart import bench_coldstart
    from bench.conversion import PYRAMID_KEY, bench_conversion, outputs
    from bench.http_load import TITLE as HTTP_TITLE
    from bench.http_load import bench_http
    from bench.protocols import add_protocol_rows
    from bench.s3gets import bench_s3_gets
    from bench.slide import ensure_slide
    from bench.tiles import add_floors, bench_tiles
    from bench.vendors import bench_vendors
    from cytotile.storage import LocalStorage
    from cytotile.tiff.reader import forget_pyramid, open_pyramid

    log(f"slide {cfg.width}x{cfg.height} in {cfg.cache}")
    start = time.perf_counter()
    slide, generated = ensure_slide(cfg.cache, cfg.width, cfg.height)
    how = "generated" if generated else "reused"
    log(
        f"slide {how}: {slide.name} ({slide.stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    sections = [guarded("conversion", lambda: bench_conversion(slide, cfg.workdir, cfg.repeats))]
    if sections[0].errors:
        return sections
    sections.append(
        guarded(
            "pyramid checks",
            lambda: _checks(slide, cfg),
        )
    )
    paths = outputs(cfg.workdir)
    storage = LocalStorage(cfg.workdir)
    forget_pyramid(storage, PYRAMID_KEY)  # rewritten by this run
    reader = open_pyramid(storage, PYRAMID_KEY)
    tiles: list[tuple[int, int, int]] = []

    def tiles_section() -> Section:
        section, sample = bench_tiles(reader, paths["cytotile"], paths["libvips"], cfg.n_tiles)
        tiles.extend(sample)
        ref = section.rows[0].value
        if ref:
            head = reader.header
            bench_app(section, cfg.workdir, head.width, head.height, sample[: cfg.app_tiles], ref)
            add_floors(section, ref)
        return section

    sections.append(guarded("tiles", tiles_section))
    if tiles:
        sections.append(
            guarded(
                "S3 GETs",
                lambda: bench_s3_gets(
                    paths["cytotile"], PYRAMID_KEY, tiles[: cfg.s3_tiles], cfg.cold_runs
                ),
            )
        )
    if tiles and cfg.http:
        head = reader.header

        def http_section() -> Section:
            args = (cfg.workdir, head.width, head.height, cfg.http_seconds, cfg.http_requests)
            section = bench_http(*args)
            if section.rows and section.rows[0].value is not None:  # not skipped
                add_protocol_rows(section, *args)  # IIIF and DZI tiles vs the PIMS route
            return section

        sections.append(guarded(HTTP_TITLE, http_section))
        from bench.tile_path import TITLE as PATH_TITLE
        from bench.tile_path import bench_tile_path

        sections.append(
            guarded(
                PATH_TITLE,
                lambda: bench_tile_path(
                    cfg.workdir, head.width, head.height, cfg.http_seconds, cfg.app_tiles
                ),
            )
        )
    if tiles and cfg.http and cfg.mix_seconds > 0:
        from bench.load_mix import TITLE as MIX_TITLE
        from bench.load_mix import bench_load_mix

        head = reader.header
        sections.append(
            guarded(
                MIX_TITLE,
                lambda: bench_load_mix(cfg.workdir, head.width, head.height, cfg.mix_seconds),
            )
        )
    sections.append(guarded("cold start", lambda: bench_coldstart(cfg.import_runs)))
    side = (max(64, cfg.width // 20), max(48, cfg.height // 20))  # 2000x1500 by default
    sections.append(guarded("archives", lambda: bench_archives(cfg.workdir, side)))
    dicom = (max(256, cfg.width // 10), max(256, cfg.height // 10))  # 4000x3000 by default
    sections.append(guarded("vendor slides", lambda: bench_vendors(cfg.workdir, dicom_size=dicom)))
    from bench.planes import run as bench_planes

    sections.append(guarded("plane path", bench_planes))
    return sections


def _checks(slide: Path, cfg: Config) -> Section:
    """Issue 8's checks on the synthetic slide and on CMU-1-Small-Region.svs (one section each;
    the second is returned inside the first's rows when the sample is there)."""
    from bench.pyramid_checks import QUICK_PAIRS, bench_sources

    small_pairs = QUICK_PAIRS if cfg.repeats > 1 else 1  # not in --quick runs
    found = bench_sources(slide, cfg.workdir, 1, cfg.check_tiles, small_pairs)
    first = found[0]
    for extra in found[1:]:
        first.rows += [replace(r, name=f"CMU-1-Small-Region.svs: {r.name}") for r in extra.rows]
        first.errors += extra.errors
    return first


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8000x6000, fewer samples (< 1 min)")
    parser.add_argument("--size", type=parse_size, help="slide WIDTHxHEIGHT (default 40000x30000)")
    parser.add_argument("--tiles", type=int, help="random tiles per peer (default 2000)")
    parser.add_argument("--repeats", type=int, help="conversions of each kind (default 3)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP load section")
    parser.add_argument(
        "--mix-seconds", type=float, help="length of the load mix (default 60; 0 skips it)"
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--show", action="store_true", help="print the tables of --json, no run")
    args = parser.parse_args(argv)
    if args.show:
        from bench.report import show

        return show(args.json)
    width, height = args.size or ((8000, 6000) if args.quick else (40000, 30000))
    cfg = Config(width, height, CACHE, CACHE / f"run-{width}x{height}")
    if args.quick:
        cfg.n_tiles, cfg.repeats, cfg.cold_runs, cfg.app_tiles, cfg.import_runs = 300, 1, 3, 200, 3
        cfg.http_seconds, cfg.http_requests = 3.0, 2000
        cfg.mix_seconds = 10.0
    cfg.n_tiles = args.tiles or cfg.n_tiles
    cfg.repeats = args.repeats or cfg.repeats
    cfg.http = not args.no_http
    if args.mix_seconds is not None:
        cfg.mix_seconds = args.mix_seconds
    return report(cfg, args.json)


def report(cfg: Config, json_path: Path) -> int:
    from bench.report import print_all, write_json

    load_before = os.getloadavg()
    start = time.perf_counter()
    sections = run(cfg)
    elapsed = time.perf_counter() - start
    load = {"before": load_before, "after": os.getloadavg(), "cpus": os.cpu_count()}
    params = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    params.update(elapsed_s=round(elapsed, 1), load=load)
    write_json(json_path, sections, params)
    print_all(sections, params)
    print(f"\nwritten: {json_path}")
    return 1 if any(s.errors for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
