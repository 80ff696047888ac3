"""large_image as an HTTP tile server peer: its TIFF source passing the stored JPEG tiles through.

large_image's ``tiff`` source (``large-image-source-tiff``, over pylibtiff and libtiff) returns a
stored JPEG tile as JPEGTables + the tile's raw bytes, without decoding, when no style applies.
Its default ICC correction counts as a style (every tile decoded, corrected and re-encoded), so
the peer turns it off (``icc_correction``), as a deployment serving stored tiles would. It opens
the same pyramid file cytotile serves, behind the same minimal Starlette route as the floor:
the row measures large_image's own per-tile path (``getTile`` and its tile cache). Its tiff
source finds a tile's frame by its SOF0/SOF2 marker only: tiles coded SOF1 (four Huffman
tables) are errors to it; the bench then gives it libvips's pyramid of the slide instead.

pylibtiff has no binary wheel: it is built from its sdist against Debian's ``libtiff-dev``
(``scripts/apt-deps.sh --bench``, ``pip install -e .[bench-peers]``); without it the row says
so and the run goes on.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path
from typing import Any

URL = re.compile(r"/level/(\d+)/tx/(\d+)/ty/(\d+)\.jpg$")
INSTALL = "pip install -e .[bench-peers] (pylibtiff from its sdist: scripts/apt-deps.sh --bench)"


def unavailable() -> str | None:
    """Why the peer cannot run here, or None."""
    for module in ("large_image", "large_image_source_tiff", "libtiff"):
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return f"{module} not installed: {INSTALL}"
    return None


def open_source(pyramid: Path) -> Any:
    import large_image  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import large_image_source_tiff  # type: ignore[import-untyped,import-not-found,unused-ignore]

    large_image.config.setConfig("icc_correction", False)  # else every tile is re-encoded
    return large_image_source_tiff.open(str(pyramid))


def tile_of(source: Any, path: str) -> bytes:
    match = URL.search(path)
    if match is None:
        raise KeyError(path)
    level, tx, ty = map(int, match.groups())
    return bytes(source.getTile(tx, ty, source.levels - 1 - level))


def app(pyramid: Path) -> Any:
    """Starlette, one route (as the floor's): large_image's getTile of the URL's tile."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    source = open_source(pyramid)

    async def tile(request: Request) -> Response:
        return Response(tile_of(source, request.scope["path"]), media_type="image/jpeg")

    async def info(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    return Starlette(routes=[Route("/info", info), Route("/image/{rest:path}", tile)])


def stored_tiles(pyramid: Path, paths: list[str]) -> dict[str, bytes]:
    """What a passthrough sends for each tile URL from another 256-tiled JPEG TIFF pyramid of
    the slide (libvips's): JPEGTables + the stored tile's bytes (read with tifffile).
    ValueError when its tile grid is not the URLs' (a level or a tile missing)."""
    import tifffile

    found = {}
    with tifffile.TiffFile(pyramid) as tif:
        pages = list(tif.pages)
        for path in paths:
            match = URL.search(path)
            assert match is not None
            level, tx, ty = map(int, match.groups())
            page = pages[level] if level < len(pages) else None
            if page is None or page.tile != (256, 256) or page.compression != 7:
                raise ValueError(f"{pyramid.name} has no 256-tiled JPEG level {level}")
            n_tx, n_ty = -(-page.shape[1] // 256), -(-page.shape[0] // 256)
            if tx >= n_tx or ty >= n_ty:
                raise ValueError(f"{pyramid.name}: level {level} has no tile {tx},{ty}")
            index = ty * n_tx + tx
            tif.filehandle.seek(page.dataoffsets[index])
            data = tif.filehandle.read(page.databytecounts[index])
            tables = page.jpegtables
            found[path] = tables[:-2] + data[2:] if tables else data
    return found


def passthrough_check(
    pyramid: Path, stored: dict[str, bytes], width: int, height: int
) -> tuple[bool, str]:
    """Whether large_image reads every tile of ``stored`` (else it cannot serve the run's URLs
    and is no peer of this run), and how it answers: the stored bytes (checked on full interior
    tiles) or not."""
    from cytotile.pyramid import Pyramid

    source = open_source(pyramid)
    tiers = Pyramid(width, height).tiers
    same = n = unreadable = 0
    first_error = ""
    for path, data in stored.items():
        try:
            answer = tile_of(source, path)
        except Exception as exc:  # its TileSourceError and the like, from libtiff's decoder
            unreadable += 1
            first_error = first_error or f"{path.rsplit('/level/', 1)[-1]}: {exc}"
            continue
        match = URL.search(path)
        assert match is not None
        level, tx, ty = map(int, match.groups())
        tier = tiers[level]
        if (tx + 1) * 256 > tier.width or (ty + 1) * 256 > tier.height:
            continue  # an edge tile: cytotile serves it at its exact size, large_image padded
        n += 1
        same += answer == data
    if unreadable:
        return False, f"large_image cannot read {unreadable}/{len(stored)} tiles ({first_error})"
    how = "passthrough" if n and same == n else "NOT passthrough"
    return True, f"large_image {how}: {same}/{n} interior tiles byte-equal to the stored ones"


def main() -> None:
    """``python -m bench.large_image_peer --pyramid FILE --port P`` (uvicorn, like the floor)."""
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--pyramid", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # uvicorn's auto stack: httptools and uvloop when installed, as ``cytotile serve``
    uvicorn.run(app(args.pyramid), host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
