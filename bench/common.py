"""What every bench section returns: rows of a table, plus small timing helpers."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Row:
    """One measurement. ``value`` is in ``unit``; None means skipped or not measurable."""

    name: str
    value: float | None
    unit: str  # "s" (shown scaled), "MB", "GETs", "x", ...
    ratio: float | None = None  # against the section's reference
    target: str = ""
    ok: bool | None = None  # None: no target, or nothing measured
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Section:
    title: str
    ratio_header: str  # what the ratio column compares to
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # measurements that failed (exit non-zero)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Section:
        rows = [Row(**row) for row in data["rows"]]
        return cls(data["title"], data["ratio_header"], rows, list(data["errors"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "ratio_header": self.ratio_header,
            "rows": [r.to_dict() for r in self.rows],
            "errors": self.errors,
        }


def median_time(fn: Callable[[], object], samples: int, warmup: int = 0) -> float:
    """Median seconds of ``samples`` calls of ``fn`` (each timed on its own)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(samples):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e9


def median_per_item(fn: Callable[[T], object], items: Sequence[T], warmup: int = 0) -> float:
    """Median seconds of ``fn(item)`` over ``items``, after ``warmup`` untimed calls."""
    for item in items[:warmup]:
        fn(item)
    times = []
    for item in items:
        start = time.perf_counter_ns()
        fn(item)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e9


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.1f} µs"
        if value < 1:
            return f"{value * 1e3:.2f} ms"
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.0f} MB" if value >= 10 else f"{value:.1f} MB"
    if unit == "GETs":
        return f"{value:g} GETs" if value == int(value) else f"{value:.3f} GETs"
    return f"{value:g} {unit}".strip()


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return ""
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


def fmt_ok(ok: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[ok]
