"""cytotile's benchmark: ``python -m bench [--quick] [--size WxH]`` (a run, not a test).

Importing the package makes ``cytotile`` importable from ``src/`` when it is not installed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
CACHE = ROOT / ".cache" / "bench"
RESULTS = Path(__file__).resolve().parent / "results"

if importlib.util.find_spec("cytotile") is None and SRC.is_dir():
    sys.path.insert(0, str(SRC))


def child_env() -> dict[str, str]:
    """The environment of a child Python that must import both ``bench`` and ``cytotile``."""
    import os

    env = dict(os.environ)
    paths = [str(ROOT), str(SRC), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env
