"""The bench's own code works: one tiny run through every section (not a measurement)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.__main__ import Config, report
from bench.common import Section


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, Path]:
    tmp = tmp_path_factory.mktemp("bench")
    cfg = Config(
        1200,
        900,
        cache=tmp / "cache",
        workdir=tmp / "run",
        n_tiles=12,
        repeats=1,
        cold_runs=2,
        s3_tiles=8,
        app_tiles=8,
        import_runs=1,
        http_seconds=1,
        http_requests=40,
        mix_seconds=2,
    )
    json_path = tmp / "latest.json"
    code = report(cfg, json_path)
    return code, json.loads(json_path.read_text()), tmp


def rows(data: dict, title_start: str) -> dict[str, dict]:
    section = next(s for s in data["sections"] if s["title"].startswith(title_start))
    return {r["name"]: r for r in section["rows"]}


def test_every_section_ran(tiny_run: tuple[int, dict, Path]) -> None:
    code, data, _ = tiny_run
    errors = [e for e in data["errors"] if not e.startswith("OpenSlide")]
    assert errors == []  # an OpenSlide failure on a tiny slide is tolerated, nothing else
    assert code == (1 if data["errors"] else 0)
    titles = [s["title"].split(" ")[0] for s in data["sections"]]
    expected = ["Conversion", "Serving", "Tiles", "GETs", "HTTP", "Passthrough", "Load", "Tile"]
    assert titles == [*expected, "Archives", "Vendor", "Plane"]


def test_conversion_and_tiles_measured(tiny_run: tuple[int, dict, Path]) -> None:
    _, data, tmp = tiny_run
    conversion = rows(data, "Conversion")
    assert conversion["cytotile convert(): time"]["value"] > 0
    assert conversion["cytotile convert(): peak RSS"]["value"] > 10  # MB of a Python child
    tiles = rows(data, "Tiles")
    assert tiles["cytotile passthrough"]["value"] > 0
    assert tiles["cytotile decode + encode"]["ratio"] > 0
    assert tiles["pyvips crop + jpegsave"]["value"] > 0
    assert (tmp / "cache" / "tissue-1200x900-v2.tif").is_file()  # kept for the next run


def test_pyramid_checks_measured(tiny_run: tuple[int, dict, Path]) -> None:
    _, data, _ = tiny_run
    checks = rows(data, "Serving")
    assert 0 < checks["pyramid bytes / original bytes"]["value"] < 3
    assert checks["level 0 max |diff| vs OpenSlide"]["value"] <= 2  # re-tiled: the source's own
    assert checks["convert(): peak RSS"]["value"] > 10


def test_gets_and_sizes_measured(tiny_run: tuple[int, dict, Path]) -> None:
    _, data, _ = tiny_run
    gets = rows(data, "GETs")
    assert gets["cold: open + first tile"]["value"] >= 2
    assert gets["warm: passthrough tile"]["value"] >= 1
    sizes = rows(data, "Tile function")
    assert sizes["unzipped size: tile packages + deps + cytotile"]["value"] > 10


def test_http_measured(tiny_run: tuple[int, dict, Path]) -> None:
    _, data, _ = tiny_run
    http = rows(data, "HTTP")
    assert http["passthrough .jpg: requests/s"]["value"] > 0
    assert http["decoded .jpg?gammas=1.2: p99 latency"]["value"] > 0


def test_tile_path_measured(tiny_run: tuple[int, dict, Path]) -> None:
    _, data, _ = tiny_run
    path = rows(data, "Passthrough tile path")
    for kind in ("in-process ASGI", "warm Lambda via Mangum"):
        floor = path[f"{kind}: Starlette floor (dict)"]
        assert floor["value"] > 0 and floor["ratio"] == 1.0
        assert path[f"{kind}: cytotile fast path"]["ratio"] > 0
    fast = path["HTTP: cytotile fast path, access log off"]
    assert fast["value"] > 0 and fast["target"] and fast["ok"] in (True, False)
    assert path["HTTP: cytotile fast path, access log on"]["ratio"] > 0
    assert path["HTTP: Starlette floor (dict), access log off"]["value"] > 0
    servers = [r for n, r in path.items() if n.startswith("HTTP: ") and r["unit"] == "req/s"]
    for row in filter(lambda r: r["value"], servers):  # its parser/loop, its CPU a request
        assert "httptools/uvloop" in row["note"] and " us a request" in row["note"], row
    large_image = path["HTTP: large_image passthrough"]
    ratio = path["HTTP: cytotile fast path / large_image"]
    if large_image["value"]:  # the bench-peers extra is installed: its answers were checked
        assert ratio["ratio"] > 0 and ratio["ok"] in (True, False)
        assert "large_image passthrough: " in ratio["note"]
    else:
        note = large_image["note"]  # not installed, or it cannot read this pyramid's tiles
        assert "skipped" in note and ("bench-peers" in note or "cannot read" in note)


def test_slide_looks_like_tissue(tiny_run: tuple[int, dict, Path]) -> None:
    import pyvips

    _, _, tmp = tiny_run
    image = pyvips.Image.new_from_file(str(tmp / "cache" / "tissue-1200x900-v2.tif"))
    assert (image.width, image.height, image.bands) == (1200, 900, 3)
    assert image.deviate() > 10  # not a flat colour
    assert image.max() > 230  # some white background


def test_section_table_renders() -> None:
    from bench.common import Row
    from bench.report import table, verdicts

    section = Section("T", "vs x", [Row("a", 2e-6, "s", 1.0, target="t", ok=True)], ["boom"])
    text = table(section) + "\n".join(verdicts([section]))
    assert "2.0 µs" in text and "PASS" in text and "ERROR: boom" in text


def test_load_mix(tiny_run: tuple[int, dict, Path]) -> None:
    _, data, _ = tiny_run
    mix = rows(data, "Load mix")
    for kind in ("tile", "thumb", "window", "all"):
        assert mix[f"{kind}: p99 latency"]["value"] >= mix[f"{kind}: p50 latency"]["value"] > 0
    assert mix["errors"]["value"] == 0
    assert mix["server peak RSS (VmHWM)"]["value"] > 0


def test_archives_measured(tiny_run: tuple[int, dict, Path]) -> None:
    _, data, _ = tiny_run
    archives = rows(data, "Archives")
    zipped = next(r for name, r in archives.items() if name.startswith("zip of the 3: import"))
    assert zipped["value"] > 0 and zipped["ratio"] > 0
    assert 0 < archives["1 GiB of zeros: peak RSS"]["value"] < 500
