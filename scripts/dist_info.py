"""Write cytotile's distribution metadata (``cytotile-<version>.dist-info``) into a folder that
holds a copy of ``src/cytotile`` (a Lambda artifact), so that ``importlib.metadata`` finds the
package's entry points there as it does in an installed venv (the formats are entry points of the
group ``cytotile.formats``).

    python3 scripts/dist_info.py TARGET_DIR
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_dist_info(target: Path, pyproject: Path = ROOT / "pyproject.toml") -> Path:
    project = tomllib.loads(pyproject.read_text())["project"]
    name, version = project["name"], project["version"]
    folder = target / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines: list[str] = []
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    for group, entries in groups.items():
        if entries:
            lines.append(f"[{group}]")
            lines += [f"{key} = {value}" for key, value in entries.items()]
            lines.append("")
    (folder / "entry_points.txt").write_text("\n".join(lines))
    return folder


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(write_dist_info(Path(sys.argv[1])))
