"""A Lambda artifact is byte-compiled at build time, hash-checked: a cold start loads its modules
whatever the modification times a zip left them, and compiles none (scripts/lambda_compile.py)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ".".join(map(str, sys.version_info[:3]))  # this interpreter stands for the runtime
#: imports ``mod`` from the artifact, failing if any module is compiled from its source
LOADS_ONLY = """
import importlib.machinery, sys
def compiled(*args, **kwargs):
    raise SystemExit("compiled from source")
importlib.machinery.SourceFileLoader.source_to_code = compiled
sys.path.insert(0, sys.argv[1])
import pkg.mod
print(pkg.mod.VALUE)
"""


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lambda_compile", ROOT / "scripts/lambda_compile.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _artifact(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("VALUE = 42\n")
    (root / "pkg" / "example_py2.py").write_text("print 'a Python 2 example'\n")
    return root


def _import(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", LOADS_ONLY, str(root)], env=env, capture_output=True, text=True
    )


def test_modules_load_from_hash_checked_pyc_whatever_their_mtime(tmp_path: Path) -> None:
    root = _artifact(tmp_path / "artifact")
    assert _script().main([str(root), RUNTIME]) == 0  # a file that does not compile: no failure
    pyc = root / "pkg" / "__pycache__" / f"mod.{sys.implementation.cache_tag}.pyc"
    header = pyc.read_bytes()[:16]
    assert int.from_bytes(header[4:8], "little") == 0b11  # hash-based, checked against source
    source = (root / "pkg" / "mod.py").read_bytes()
    assert header[8:16] == importlib.util.source_hash(source)
    for path in (root / "pkg").glob("*.py"):
        os.utime(path, (1_000_000_001, 1_000_000_001))  # as a zip keeps them: to 2 s, or not
    loaded = _import(root)
    assert (loaded.returncode, loaded.stdout.strip()) == (0, "42"), loaded.stderr


def test_another_python_writes_nothing(tmp_path: Path) -> None:
    root = _artifact(tmp_path / "artifact")
    other = f"{sys.version_info[0]}.{sys.version_info[1] + 1}.0"
    assert _script().main([str(root), other]) == 0
    assert not list(root.rglob("*.pyc"))
    assert "compiled from source" in _import(root).stderr  # as without the build step
