"""Each function, with the layer it uses, fits Lambda's 250 MB unzipped with room to spare.

Sizes are those of the pinned packages as installed here (the same manylinux wheels that
`sam build` installs), less what scripts/lambda_trim.py leaves out, plus cytotile's sources and
their .pyc.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_LIMIT_MB = 250
#: "well under" the limit: what a function may take with its layer
BUDGET_MB = {"import": 235, "tile": 150, "annotation": 170}


def _trim_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("lambda_trim", ROOT / "scripts/lambda_trim.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sources_mb() -> float:
    """cytotile's files, and the .pyc the build compiles them into (scripts/lambda_compile.py;
    the installed packages' are counted with them)."""
    import marshal

    src = ROOT / "src" / "cytotile"
    files = [p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    pyc = sum(
        16 + len(marshal.dumps(compile(p.read_bytes(), str(p), "exec")))
        for p in files
        if p.suffix == ".py"
    )
    return (sum(p.stat().st_size for p in files) + pyc) / 1e6


@pytest.mark.parametrize("function", sorted(BUDGET_MB))
def test_function_with_its_layer_fits(function: str) -> None:
    from bench.sizes import dist_size, lambda_trim, requirement_names

    skip = lambda_trim()
    files = [ROOT / "layers/vips/requirements.txt", ROOT / f"functions/{function}/requirements.txt"]
    size = sum(dist_size(n, skip) for n in requirement_names(files)) / 1e6 + _sources_mb()
    assert size < BUDGET_MB[function] < LAMBDA_LIMIT_MB, f"{function}: {size:.0f} MB unzipped"


def test_trim_keeps_the_jpeglib_build_the_retiler_loads() -> None:
    trim = _trim_module()
    from cytotile.importer.retile import JPEGLIB_VERSION

    keep = trim.jpeglib_version()
    assert keep == JPEGLIB_VERSION
    assert not trim.trimmed(f"jpeglib/cjpeglib/cjpeglib_{keep}.abi3.so", keep)
    assert not trim.trimmed("jpeglib/cjpeglib/cjpeglib_6b.abi3.so", keep)  # bound on import
    assert not trim.trimmed("jpeglib/cjpeglib/__init__.py", keep)
    assert not trim.trimmed("jpeglib/_bind.py", keep)
    assert trim.trimmed("jpeglib/cjpeglib/cjpeglib_9f.abi3.so", keep)
    assert trim.trimmed("jpeglib/cjpeglib/9f/jpeglib.h", keep)
    assert trim.trimmed("numpy/_core/tests/test_umath.py", keep)
    assert not trim.trimmed("numpy/_core/umath.py", keep)
    assert not trim.trimmed("tifffile/tifffile.py", keep)


def test_trim_deletes_only_what_the_rule_names(tmp_path: Path) -> None:
    trim = _trim_module()
    keep = "turbo210"
    files = [
        "jpeglib/cjpeglib/cjpeglib_turbo210.abi3.so",
        "jpeglib/cjpeglib/cjpeglib_8d.abi3.so",
        "jpeglib/cjpeglib/cjpeglib_6b.abi3.so",
        "jpeglib/cjpeglib/8d/jconfig.h",
        "jpeglib/cjpeglib/__init__.py",
        "numpy/linalg/tests/test_linalg.py",
        "numpy/linalg/_linalg.py",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * 10)
    assert trim.trim(tmp_path, keep) == 30
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "jpeglib/cjpeglib/__init__.py",
        "jpeglib/cjpeglib/cjpeglib_6b.abi3.so",
        "jpeglib/cjpeglib/cjpeglib_turbo210.abi3.so",
        "numpy/linalg/_linalg.py",
    ]
    assert not (tmp_path / "jpeglib/cjpeglib/8d").exists()


def test_a_trimmed_jpeglib_imports_and_binds_the_retilers_build(tmp_path: Path) -> None:
    """The trimmed package as the import function carries it: ``import jpeglib`` and the
    re-tiler's ``version.set`` work from it alone (in a fresh interpreter)."""
    import shutil
    import subprocess
    import sys

    import jpeglib

    trim = _trim_module()
    shutil.copytree(Path(jpeglib.__file__).parent, tmp_path / "jpeglib")
    trim.trim(tmp_path, trim.jpeglib_version())
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import jpeglib; "
        "assert jpeglib.__file__.startswith(sys.argv[1]); "
        f"jpeglib.version.set({trim.jpeglib_version()!r})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
