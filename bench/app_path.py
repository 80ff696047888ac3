"""Tiles through the HTTP app (Starlette TestClient), when ``cytotile.api.app`` exists.

The app is another engineer's work in progress: a missing app is a skip, and an app that
answers badly is reported (as a note) without failing the run.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from bench.common import Row, Section, median_per_item
from bench.tiles import Tile

UPLOAD_ID = "upload-bench"
ORIGINAL_NAME = "tissue.tif"


def write_manifest(root: Path, width: int, height: int, n_tiers: int) -> None:
    from cytotile.formats.base import ImageMetadata
    from cytotile.manifest import FileEntry, Manifest, Status, pyramid_key
    from cytotile.storage import LocalStorage

    meta = ImageMetadata("PLANARTIFF", width, height, 3, 1, 3, "uint8", 8)
    key = pyramid_key(UPLOAD_ID)
    manifest = Manifest(
        id=UPLOAD_ID,
        original_name=ORIGINAL_NAME,
        status=Status.DEPLOYED,
        format_id="PLANARTIFF",
        image=meta.to_dict(),
        pyramid={"n_tiers": n_tiers, "compression": "jpeg", "quality": 85},
        files=[FileEntry("SPATIAL", key, (root / key).stat().st_size, "PYRTIFF")],
    )
    manifest.save(LocalStorage(root))


def _make_app(create_app: Any, root: Path) -> Any:
    from cytotile.settings import ServerSettings

    params = inspect.signature(create_app).parameters
    if "settings" in params:
        return create_app(settings=ServerSettings(root=str(root)))
    if "root" in params:
        return create_app(root=str(root))
    if "storage" in params:
        from cytotile.storage import LocalStorage

        return create_app(storage=LocalStorage(root))
    return create_app()  # reads CYTOTILE_ROOT, set by the caller


def bench_app(
    section: Section, root: Path, width: int, height: int, tiles: list[Tile], ref: float
) -> None:
    """Add the app's row to the tiles section (the pyramid is already at its key under root)."""
    from cytotile.pyramid import Pyramid

    pyramid = Pyramid(width, height)
    n_tx = [tier.n_tx for tier in pyramid.tiers]
    name = "app: GET normalized-tile .jpg"
    try:
        from starlette.testclient import TestClient

        from cytotile.api.app import create_app
    except ImportError as exc:
        section.rows.append(Row(name, None, "s", note=f"skipped: {exc.name or exc} not available"))
        return
    saved = os.environ.get("CYTOTILE_ROOT")
    os.environ["CYTOTILE_ROOT"] = str(root)
    try:
        write_manifest(root, width, height, pyramid.n_tiers)
        with TestClient(_make_app(create_app, root)) as client:

            def get(t: Tile) -> bytes:
                level, tx, ty = t
                url = (
                    f"/image/{UPLOAD_ID}/{ORIGINAL_NAME}/normalized-tile/level/{level}"
                    f"/ti/{ty * n_tx[level] + tx}.jpg"
                )
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} answered {response.status_code}")
                return response.content

            seconds = median_per_item(get, tiles, warmup=min(20, len(tiles)))
    except Exception as exc:  # not ours to fail the run for: reported only
        section.rows.append(Row(name, None, "s", note=f"app error: {type(exc).__name__}: {exc}"))
        return
    finally:
        if saved is None:
            os.environ.pop("CYTOTILE_ROOT", None)
        else:
            os.environ["CYTOTILE_ROOT"] = saved
    note = f"median of {len(tiles)}, TestClient (in-process ASGI, no socket)"
    section.rows.append(Row(name, seconds, "s", seconds / ref, note=note))
