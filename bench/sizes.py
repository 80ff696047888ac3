"""The unzipped size of what the tile function carries (installed files, as pip lays them out).

Two counts: the packages the tile path needs (and their dependencies), and, once they exist,
the pinned requirements of the Lambda layer and the tile function. Both add cytotile's sources.
boto3/botocore/s3transfer are provided by the Lambda runtime and are not counted.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from bench import ROOT, SRC
from bench.common import Row

SIZE_TARGET_MB = 150
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}
TILE_PACKAGES = ["pyvips", "pyvips-binary", "numpy", "simplejpeg", "starlette", "mangum", "anyio"]
DEPLOY_REQUIREMENTS = [
    ROOT / "layers/vips/requirements.txt",
    ROOT / "functions/tile/requirements.txt",
]


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(names: list[str]) -> set[str]:
    """Installed distributions ``names`` need (no extras), without the runtime-provided ones."""
    seen: set[str] = set()
    todo = [canon(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen or name in RUNTIME_PROVIDED:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed is not carried either
        seen.add(name)
        for req in dist.requires or []:
            spec, _, marker = req.partition(";")
            if marker.strip() and not _marker_true(marker):
                continue
            todo.append(canon(re.split(r"[\s<>=!~\[(]", spec.strip(), maxsplit=1)[0]))
    return seen


def _marker_true(marker: str) -> bool:
    """Whether a requirement's environment marker holds here, extras never requested."""
    if "extra" in marker:
        return False
    try:
        from packaging.markers import Marker
    except ImportError:
        return False
    return bool(Marker(marker).evaluate({"extra": ""}))


def lambda_trim() -> Callable[[str], bool]:
    """The rule of scripts/lambda_trim.py: whether `sam build` leaves an installed file out."""
    spec = importlib.util.spec_from_file_location("lambda_trim", ROOT / "scripts/lambda_trim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keep = module.jpeglib_version()
    return lambda relpath: bool(module.trimmed(relpath, keep))


def dist_size(name: str, skip: Callable[[str], bool] | None = None) -> int:
    """Bytes of an installed distribution's files (RECORD), less those ``skip`` names."""
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file() and not (skip and skip(file.as_posix())):
            total += path.stat().st_size
    return total


def tree_size(folder: Path) -> int:
    return sum(
        p.stat().st_size for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )


def package_sizes(names: set[str], skip: Callable[[str], bool] | None = None) -> dict[str, float]:
    """MB per installed distribution (RECORD files), plus cytotile's sources; absent ones: -1."""
    sizes: dict[str, float] = {}
    for name in sorted(names):
        try:
            sizes[name] = dist_size(name, skip) / 1e6
        except metadata.PackageNotFoundError:
            sizes[name] = -1.0
    sizes["cytotile (src)"] = tree_size(SRC / "cytotile") / 1e6
    return sizes


def requirement_names(files: list[Path]) -> set[str]:
    names = set()
    for file in files:
        for line in file.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(canon(re.split(r"[\s<>=!~\[;]", line, maxsplit=1)[0]))
    return names - RUNTIME_PROVIDED


def size_rows() -> list[Row]:
    listed = package_sizes(closure(TILE_PACKAGES))
    present = [f for f in DEPLOY_REQUIREMENTS if f.is_file()]
    deployed = (
        package_sizes(requirement_names(present), lambda_trim()) if len(present) == 2 else None
    )
    rows = [_size_row("unzipped size: tile packages + deps + cytotile", listed)]
    if deployed is None:
        rows.append(
            Row(
                "unzipped size: as deployed",
                None,
                "MB",
                note="not available yet (no layer/function requirements.txt)",
            )
        )
    else:
        rows.append(_size_row("unzipped size: as deployed (layer + function)", deployed))
    for row in rows:
        row.target = f"< {SIZE_TARGET_MB} MB"
        row.ok = None if row.value is None else row.value < SIZE_TARGET_MB
    return rows


def _size_row(name: str, sizes: dict[str, float]) -> Row:
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:4]
    note = "largest: " + ", ".join(f"{k} {v:.1f}" for k, v in top)
    missing = [k for k, v in sizes.items() if v < 0]
    if missing:
        note += "; not installed here, not counted: " + ", ".join(missing)
    total = sum(v for v in sizes.values() if v > 0)
    return Row(name, total, "MB", note=note, extra={"packages_mb": sizes})
