"""Low-resolution pixels vs a high-quality downscale of the full-resolution pixels (issue 13).

    .venv/bin/python scripts/lowres_check.py [--size 12288x9216] [--workdir /tmp/lowres]

Writes a synthetic tissue slide (tiled JPEG, like a scanner's export; kept between runs),
imports it with cytotile's own format and converter, serves the zoom-0 tile and the 256
thumbnail through the app, and compares each with libvips downscales of the full-resolution
pixels: ``area`` (box average over whole source pixels: ``shrink``) and ``lanczos3``
(``resize``). Also compares what a nearest-neighbour (``subsample``) and a decimating
``thumbnail`` would give, for scale. Prints mean absolute differences (0-255) per pair;
docs/pims-parity.md records a run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyvips
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.formats import detect
from cytotile.importer.convert import convert
from cytotile.manifest import FileEntry, Manifest, Status, pyramid_key
from cytotile.pyramid import Pyramid
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from cytotile.synthetic import write_tissue_slide


def pixels(image: pyvips.Image) -> np.ndarray:
    return np.asarray(image.numpy(), dtype=np.float64)


def decoded(data: bytes) -> np.ndarray:
    return pixels(pyvips.Image.new_from_buffer(data, ""))


def mad(a: np.ndarray, b: np.ndarray) -> float:
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(np.abs(a[:h, :w] - b[:h, :w]).mean())


def deploy(slide: Path, root: Path) -> str:
    storage = LocalStorage(root)
    upload = "upload-lowres"
    out = Path(root, pyramid_key(upload))
    out.parent.mkdir(parents=True, exist_ok=True)
    with detect(slide).open(slide) as source:
        meta = source.metadata
        started = time.perf_counter()
        result = convert(source, out, quality=85)
        print(f"converted in {time.perf_counter() - started:.1f} s ({result.method})")
    manifest = Manifest(
        id=upload,
        original_name=slide.name,
        status=Status.DEPLOYED,
        format_id=meta.format_id,
        image=meta.to_dict(),
        pyramid={**Pyramid(meta.width, meta.height).info, "compression": result.compression},
        files=[FileEntry("SPATIAL", pyramid_key(upload), result.size, "PYRTIFF")],
    )
    manifest.save(storage)
    return f"{upload}/{slide.name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="12288x9216")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir(), "lowres")))
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(args.workdir)
    slide = write_tissue_slide(work / f"tissue-{width}x{height}.tif", width, height)
    root = work / f"root-{width}x{height}"
    path = deploy(slide, root)
    pyramid = Pyramid(width, height)
    top = pyramid.at_zoom(0)
    factor = width / top.width
    client = TestClient(create_app(ServerSettings(root=str(root)), LocalStorage(root)))
    tile = decoded(client.get(f"/image/{path}/normalized-tile/zoom/0/ti/0.png").content)
    thumb = decoded(client.get(f"/image/{path}/thumb.png", params={"length": 256}).content)
    full = pyvips.Image.new_from_file(str(slide))  # random access for the references
    area = pixels(full.shrink(factor, factor))
    lanczos = pixels(full.resize(1 / factor, kernel="lanczos3"))
    nearest = pixels(full.subsample(int(factor), int(factor)))
    scale = thumb.shape[1] / width
    thumb_lanczos = pixels(full.resize(scale, kernel="lanczos3"))
    thumb_fast = pixels(pyvips.Image.thumbnail(str(slide), 256))
    thumb_nearest = pixels(full.resize(scale, kernel="nearest"))
    area_image = full.shrink(factor, factor).cast("uchar")
    encoded = decoded(area_image.jpegsave_buffer(Q=85, subsample_mode="on"))
    print(f"slide {width}x{height}; zoom 0 = {top.width}x{top.height} (1/{factor:g})")
    rows = [
        ("zoom-0 tile vs area", mad(tile, area)),
        ("zoom-0 tile vs lanczos3", mad(tile, lanczos)),
        ("area vs lanczos3 (two right answers)", mad(area, lanczos)),
        ("area through JPEG q85 4:2:0 vs area (encoder)", mad(encoded, area)),
        ("nearest vs area (aliased, for scale)", mad(nearest, area)),
        (f"thumb {thumb.shape[1]}x{thumb.shape[0]} vs lanczos3", mad(thumb, thumb_lanczos)),
        ("libvips thumbnail() vs lanczos3", mad(thumb_fast, thumb_lanczos)),
        ("nearest thumb vs lanczos3 (for scale)", mad(thumb_nearest, thumb_lanczos)),
    ]
    for name, value in rows:
        print(f"  {name:42s} {value:6.2f}")


if __name__ == "__main__":
    main()
