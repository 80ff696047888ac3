"""The ``cytotile`` command: import, serve, info, upload."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from cytotile.settings import ImportSettings, ServerSettings, from_env

#: why a folder is not imported as such, and what to give instead
FOLDER = (
    "a folder: give one of its files (a DICOM series: any of its instances; a slide of several "
    "files: its .mrxs or .vms; the files beside it are found) or an archive of the folder"
)


def _import(args: argparse.Namespace) -> int:
    from cytotile.importer.flow import import_file
    from cytotile.storage import open_storage

    settings = from_env(ImportSettings, **({"root": args.root} if args.root else {}))
    storage = open_storage(settings.root)
    failed = 0
    for name in args.paths:
        path = Path(name)
        if not path.is_file():
            reason = FOLDER if path.is_dir() else "no such file"
            print(f"{name}\t-\tERROR_FORMAT\t{reason}", flush=True)
            failed += 1
            continue
        manifest = import_file(storage, path, name=path.name, settings=settings)
        failed += _print_upload(storage, name, manifest)
    return 1 if failed else 0


def _print_upload(storage: Any, name: str, manifest: Any) -> int:
    """One line per upload, then one per child of a collection (an archive, a file of several
    images) named ``<name> > <child>``; how many ended in an error."""
    from cytotile.errors import ImageNotFound
    from cytotile.manifest import Manifest

    reason = f"\t{manifest.reason}" if manifest.reason else ""
    upload = manifest.file("UPLOAD")
    path = f"{manifest.id}/{manifest.original_name}" if manifest.parent else None
    key = path or (upload.key if upload else manifest.id)
    print(f"{name}\t{key}\t{manifest.status.value}{reason}", flush=True)
    failed = int(manifest.status.is_error)
    for child in manifest.children:
        try:
            found = Manifest.load(storage, str(child["id"]))
        except ImageNotFound:
            continue
        failed += _print_upload(storage, f"{name} > {child['name']}", found)
    return failed


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


RESUME = "run the same command again to resume (what S3 already has is not sent again)"


def _upload(args: argparse.Namespace) -> int:
    from cytotile import upload as up

    files = [Path(name) for name in args.paths]
    up.check_names(files, args.to)
    bar = up.ProgressBar()
    client = up.default_client(args.concurrency)
    failed = 0
    for file in files:
        try:
            up.upload_file(
                file,
                args.to,
                client=client,
                part_size=args.part_size * up.MiB,
                progress=bar,
                state_dir=args.state_dir,
                concurrency=args.concurrency,
                force=args.force,
            )
        except KeyboardInterrupt:
            bar.end_line()
            print(f"cytotile upload: interrupted; {RESUME}", file=sys.stderr)
            return 130
        except Exception as exc:
            bar.end_line()
            print(f"cytotile upload: {file}: {getattr(exc, 'details', exc)}", file=sys.stderr)
            failed += 1
    if failed:
        print(f"cytotile upload: {failed} of {len(files)} failed; {RESUME}", file=sys.stderr)
    return 1 if failed else 0


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
    upl = sub.add_parser("upload", help="upload files to S3 (multipart, resumable)")
    upl.add_argument("paths", nargs="+", metavar="FILE")
    upl.add_argument("--to", required=True, metavar="s3://BUCKET/PREFIX", help="destination")
    upl.add_argument("--part-size", type=int, default=16, metavar="MiB", help="default 16")
    upl.add_argument("--concurrency", type=int, default=4, help="parts sent at once (4)")
    upl.add_argument("--state-dir", help="resume records (~/.cache/cytotile/uploads)")
    upl.add_argument("--force", action="store_true", help="upload files already uploaded")
    upl.set_defaults(func=_upload)
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
