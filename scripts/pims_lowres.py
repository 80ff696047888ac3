"""Low-resolution pixels of the 40000x30000 slide: PIMS vs cytotile vs the truth (issue 13).

    .venv/bin/python scripts/pims_lowres.py --pims-path upload-.../slide-40000x30000.tif \\
        [--method area|decimated] [--root /tmp/lowres-root] [--url http://127.0.0.1:5913]

The slide is tests/parity/bigslide.py's (``--method``: its lower pages are area averages of
level 0, or every 2^k-th pixel of it, as an aliasing writer leaves them); PIMS must have
imported that file (infra/pims/launch.py import) and serve it at ``--url``. cytotile imports
it into ``--root`` (kept between runs: cytotile builds every lower tier from level 0, so both
files give it the same pyramid). Compared: the zoom-0 tile (1/256 of level 0) and the 256
thumbnail, as PNG from both servers, with libvips downscales of the full-resolution pixels:
``area`` (``shrink``, a box average) and ``lanczos3`` (``resize``). Mean absolute
differences, 0-255; docs/pims-parity.md records a run.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pyvips
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.parity import bigslide

from cytotile.api.app import create_app
from cytotile.importer.flow import import_file
from cytotile.settings import ImportSettings, ServerSettings
from cytotile.storage.local import LocalStorage


def pixels(data: bytes | pyvips.Image) -> np.ndarray:
    image = data if isinstance(data, pyvips.Image) else pyvips.Image.new_from_buffer(data, "")
    return np.asarray(image.numpy(), dtype=np.float64)[..., :3]


def mad(a: np.ndarray, b: np.ndarray) -> float:
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(np.abs(a[:h, :w] - b[:h, :w]).mean())


def cytotile_path(root: Path, slide: Path) -> str:
    found = sorted(root.glob("upload-*/manifest.json"))
    if found:
        return f"{found[0].parent.name}/{bigslide_name()}"
    manifest = import_file(
        LocalStorage(root), slide, name=bigslide_name(), settings=ImportSettings()
    )
    return f"{manifest.id}/{bigslide_name()}"


def bigslide_name() -> str:
    return f"slide-{bigslide.WIDTH}x{bigslide.HEIGHT}.tif"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pims-path", required=True)
    parser.add_argument("--method", default="area", choices=["area", "decimated"])
    parser.add_argument("--root", type=Path, default=Path("/tmp/lowres-root"))
    parser.add_argument("--url", default="http://127.0.0.1:5913")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lowres-slides"))
    args = parser.parse_args()
    slide = bigslide.write(args.workdir / f"slide-{args.method}.tif", args.method)
    path = cytotile_path(args.root, slide)
    client = TestClient(create_app(ServerSettings(root=str(args.root)), LocalStorage(args.root)))

    def pims(url: str) -> bytes:
        with urllib.request.urlopen(args.url + url, timeout=600) as response:
            return bytes(response.read())

    tile_url, thumb_url = "normalized-tile/zoom/0/ti/0.png", "thumb.png?length=256"
    ours_tile = pixels(client.get(f"/image/{path}/{tile_url}").content)
    ours_thumb = pixels(client.get(f"/image/{path}/{thumb_url}").content)
    pims_tile = pixels(pims(f"/image/{args.pims_path}/{tile_url}"))
    pims_thumb = pixels(pims(f"/image/{args.pims_path}/{thumb_url}"))
    full = bigslide.full_resolution()  # level 0: the same in both files
    factor = 2 ** (len(bigslide.levels()) - 1)  # zoom 0 is exactly 1/256 of level 0
    area = pixels(full.shrink(factor, factor).cast("uchar"))
    lanczos = pixels(full.resize(1 / factor, kernel="lanczos3").cast("uchar"))
    scale = ours_thumb.shape[1] / bigslide.WIDTH
    thumb_area = pixels(full.shrink(1 / scale, 1 / scale).cast("uchar"))
    thumb_lanczos = pixels(full.resize(scale, kernel="lanczos3").cast("uchar"))
    rows = [
        ("zoom-0 tile: PIMS vs cytotile", mad(pims_tile, ours_tile)),
        ("zoom-0 tile: PIMS vs area", mad(pims_tile, area)),
        ("zoom-0 tile: PIMS vs lanczos3", mad(pims_tile, lanczos)),
        ("zoom-0 tile: cytotile vs area", mad(ours_tile, area)),
        ("zoom-0 tile: cytotile vs lanczos3", mad(ours_tile, lanczos)),
        ("zoom-0 tile: area vs lanczos3", mad(area, lanczos)),
        ("thumb 256: PIMS vs cytotile", mad(pims_thumb, ours_thumb)),
        ("thumb 256: PIMS vs area", mad(pims_thumb, thumb_area)),
        ("thumb 256: PIMS vs lanczos3", mad(pims_thumb, thumb_lanczos)),
        ("thumb 256: cytotile vs area", mad(ours_thumb, thumb_area)),
        ("thumb 256: cytotile vs lanczos3", mad(ours_thumb, thumb_lanczos)),
        ("thumb 256: area vs lanczos3", mad(thumb_area, thumb_lanczos)),
    ]
    print(f"slide {bigslide.WIDTH}x{bigslide.HEIGHT}, lower pages: {args.method}")
    for name, value in rows:
        print(f"  {name:36s} {value:6.2f}")


if __name__ == "__main__":
    main()
