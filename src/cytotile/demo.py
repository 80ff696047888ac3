"""``python -m cytotile.demo ROOT``: import the demo images into ROOT, once.

The real ``CMU-1-Small-Region.svs`` from ``../shared/samples`` when it is there, and a synthetic
tissue-like slide of 20000x15000 generated once and kept in ``ROOT/.demo/``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cytotile.settings import ImportSettings, from_env

SAMPLE = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "CMU-1-Small-Region.svs"
)
SYNTHETIC_SIZE = (20000, 15000)


def demo_files(root: Path) -> list[Path]:
    from cytotile.synthetic import write_tissue_slide

    files = [SAMPLE.resolve()] if SAMPLE.is_file() else []
    width, height = SYNTHETIC_SIZE
    print(f"demo: synthetic slide {width}x{height} (generated once)", flush=True)
    files.append(write_tissue_slide(root / ".demo" / "synthetic-tissue.tif", width, height))
    return files


def main(argv: list[str]) -> int:
    from cytotile.importer.flow import import_file
    from cytotile.manifest import Manifest
    from cytotile.storage import LocalStorage

    root = Path(argv[0] if argv else "./data")
    storage = LocalStorage(root)
    done_file = root / ".demo" / "imported.json"
    done: dict[str, str] = json.loads(done_file.read_text()) if done_file.exists() else {}
    settings = from_env(ImportSettings, root=str(root))
    failed = 0
    for path in demo_files(root):
        if path.name in done:
            try:
                if Manifest.load(storage, done[path.name]).status.value == "DEPLOYED":
                    continue
            except Exception:  # the upload was removed: import again
                pass
        print(f"demo: importing {path.name}", flush=True)
        manifest = import_file(storage, path, name=path.name, settings=settings)
        print(f"demo: {manifest.id} {manifest.status.value} {manifest.reason or ''}", flush=True)
        if manifest.status.value == "DEPLOYED":
            done[path.name] = manifest.id
        else:
            failed += 1
    done_file.parent.mkdir(parents=True, exist_ok=True)
    done_file.write_text(json.dumps(done, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
