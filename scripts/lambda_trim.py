"""Leave out of a Lambda artifact the installed files that no code path of cytotile loads.

    python3 scripts/lambda_trim.py ARTIFACTS_DIR     # run by scripts/lambda.mk after pip

Lambda counts a function and its layers together against 250 MB unzipped, and two packages ship
far more than cytotile runs: jpeglib bundles about 25 builds of libjpeg (78 MB) of which the
re-tiler loads one (``cytotile.importer.retile.JPEGLIB_VERSION``), and numpy carries its own
test suites (17 MB). jpeglib binds libjpeg 6b when it is imported, so that build stays too.
``trimmed`` is the one rule, used by the build and by the test that keeps
the import function's size in check (tests/infra/test_lambda_size.py).
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
JPEGLIB_IMPORT_VERSION = "6b"  # what ``import jpeglib`` binds (jpeglib/__init__.py)
RETILE = ROOT / "src" / "cytotile" / "importer" / "dctcodec.py"  # JPEGLIB_VERSION


def jpeglib_version(source: Path = RETILE) -> str:
    """The libjpeg build the re-tiler selects, read from its source (nothing is imported)."""
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "JPEGLIB_VERSION" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, str)
            return value
    raise SystemExit(f"no JPEGLIB_VERSION in {source}")


def trimmed(relpath: str, keep_jpeglib: str) -> bool:
    """Whether a file (its path relative to the artifact's root or site-packages) is left out."""
    parts = PurePosixPath(relpath).parts
    if len(parts) >= 3 and parts[0] == "jpeglib" and parts[1] == "cjpeglib":
        name = parts[2]
        if len(parts) > 3:  # a build's source and headers folder
            return True
        built = re.fullmatch(r"cjpeglib_(.+?)\.(?:abi3\.)?(?:so|pyd|dll)", name)
        kept = (keep_jpeglib, JPEGLIB_IMPORT_VERSION)
        return bool(built and built.group(1) not in kept) or name.endswith((".c", ".cpp"))
    return parts[:1] == ("numpy",) and ("tests" in parts[1:-1] or "testing" in parts[1:-1])


def trim(folder: Path, keep_jpeglib: str) -> int:
    """Delete the trimmed files under ``folder`` (and folders left empty); return bytes freed."""
    freed = 0
    for path in sorted(folder.rglob("*"), reverse=True):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and trimmed(rel, keep_jpeglib):
            freed += path.stat().st_size
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()) and trimmed(rel + "/x", keep_jpeglib):
            shutil.rmtree(path)
    return freed


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    base = folder / "python" if (folder / "python").is_dir() else folder
    freed = trim(base, jpeglib_version())
    print(f"lambda_trim: {freed / 1e6:.1f} MB left out of {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
