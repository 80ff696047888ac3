"""Print the sections as tables with a verdict per target, and write ``results/latest.json``."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from bench.common import Section, fmt_ok, fmt_ratio, fmt_value


def table(section: Section) -> str:
    header = ["name", "median", section.ratio_header or "ratio", "target", "ok?", "note"]
    body = [
        [
            row.name,
            fmt_value(row.value, row.unit),
            fmt_ratio(row.ratio),
            row.target,
            fmt_ok(row.ok),
            row.note,
        ]
        for row in section.rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header) - 1)]
    lines = [f"== {section.title} =="]
    for n, cells in enumerate([header, *body]):
        fixed = [
            c.rjust(w) if 0 < i < 3 else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ]
        lines.append(" | ".join([*fixed, cells[-1]]).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 4)
    lines += [f"  ERROR: {e}" for e in section.errors]
    return "\n".join(lines)


def verdicts(sections: list[Section]) -> list[str]:
    lines = ["== Verdict per target =="]
    for section in sections:
        for row in section.rows:
            if not row.target:
                continue
            if row.ok is None:
                status = "n/a "
                shown = row.note or "not measured"
            else:
                status = "PASS" if row.ok else "FAIL"
                shown = fmt_value(row.value, row.unit)
                if row.ratio is not None and section.ratio_header:
                    shown += f" ({fmt_ratio(row.ratio)} {section.ratio_header.removeprefix('vs ')})"
            lines.append(f"  {status}  {row.name}: {shown}  [target {row.target}]")
    errors = [e for s in sections for e in s.errors]
    lines.append(f"  {len(errors)} measurement error(s)" if errors else "  no measurement errors")
    return lines


def write_json(path: Path, sections: list[Section], params: dict[str, Any]) -> None:
    import pyvips

    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "params": params,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        },
        "sections": [s.to_dict() for s in sections],
        "errors": [e for s in sections for e in s.errors],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def print_all(sections: list[Section], params: dict[str, Any]) -> None:
    load = params["load"]
    print(
        f"cytotile bench: {params['width']}x{params['height']} slide, {params['elapsed_s']:.0f} s; "
        f"load average {load['before'][0]:.1f} before, {load['after'][0]:.1f} after, "
        f"on {load['cpus']} CPUs\n"
    )
    for section in sections:
        print(table(section) + "\n")
    print("\n".join(verdicts(sections)))


def show(json_path: Path) -> int:
    data = json.loads(json_path.read_text())
    sections = [Section.from_dict(s) for s in data["sections"]]
    print_all(sections, data["params"])
    return 1 if data["errors"] else 0
