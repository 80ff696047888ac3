"""The ``cytotile`` command: import, serve, info."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from cytotile.settings import ImportSettings, ServerSettings, from_env


def _import(args: argparse.Namespace) -> int:
    from cytotile.importer.flow import import_file
    from cytotile.storage import open_storage

    settings = from_env(ImportSettings, **({"root": args.root} if args.root else {}))
    storage = open_storage(settings.root)
    failed = 0
    for name in args.paths:
        path = Path(name)
        if not path.is_file():
            print(f"{name}\t-\tERROR_FORMAT\tno such file", flush=True)
            failed += 1
            continue
        manifest = import_file(storage, path, name=path.name, settings=settings)
        reason = f"\t{manifest.reason}" if manifest.reason else ""
        upload = manifest.file("UPLOAD")
        print(f"{name}\t{upload.key if upload else manifest.id}\t{manifest.status.value}{reason}")
        failed += manifest.status.is_error
    return 1 if failed else 0


def _serve(args: argparse.Namespace) -> int:
    from cytotile.api.app import serve

    overrides = {"root": args.root} if args.root else {}
    serve(from_env(ServerSettings, **overrides), host=args.host, port=args.port)
    return 0


def _info(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_file():
        from cytotile.importer.sandbox import run_isolated

        settings = from_env(ImportSettings)
        found = run_isolated(
            "cytotile.importer.tasks:detect",
            {"path": str(path)},
            timeout_s=120,
            memory_bytes=settings.memory_mb << 20,
        )
        print(json.dumps(found, indent=1))
        return 0
    from cytotile.manifest import Manifest, upload_id_of
    from cytotile.storage import open_storage

    root = args.root or from_env(ServerSettings).root
    manifest = Manifest.load(open_storage(root), upload_id_of(args.path))
    print(manifest.to_json())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cytotile", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import image files into the root")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--root", help="a folder or s3://bucket/prefix (default: $CYTOTILE_ROOT)")
    imp.set_defaults(func=_import)
    srv = sub.add_parser("serve", help="serve the HTTP API and the viewer")
    srv.add_argument("--root", help="a folder or s3://bucket/prefix (default: $CYTOTILE_ROOT)")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.set_defaults(func=_serve)
    info = sub.add_parser("info", help="a file's detected format, or an upload's manifest")
    info.add_argument("path", metavar="PATH", help="a local file or an upload-<id>/... path")
    info.add_argument("--root", help="where uploads live, for an upload path")
    info.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    from cytotile.errors import CytotileError

    try:
        return int(args.func(args))
    except CytotileError as exc:
        print(f"cytotile: {exc.details}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
