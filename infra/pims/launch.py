"""Run PIMS (installed by infra/pims/setup.sh) for the parity recordings, with one workaround.

    CONFIG_FILE=/tmp/pims-data/pims-config.env /tmp/pims-venv/bin/python infra/pims/launch.py \
        serve --port 5913
    CONFIG_FILE=... /tmp/pims-venv/bin/python infra/pims/launch.py import /path/to/folder

The workaround: Debian 12's libvips 8.14.1 crashes (SIGSEGV in libopenslide) when it reads an
associated image (``openslideload(associated=...)``: libvips bug fixed in 8.14.2, its pull
request 3384), which PIMS's OpenSlide plugin does for every SVS thumb, label and macro. PIMS's
own images run libvips 8.12, without the bug. Here such a call on an SVS reads the associated
page with tifffile instead (OpenSlide's Python binding cannot share the process with the
libopenslide that libvips loads), into the same RGBA libvips image; every other call goes to
libvips unchanged. Nothing else of PIMS is touched.
"""

from __future__ import annotations

import sys

import numpy as np
import pyvips

_openslideload = pyvips.Image.openslideload


def _associated(filename: str, associated: str) -> pyvips.Image:
    """An Aperio SVS associated image, read by tifffile as OpenSlide finds it: the thumbnail
    is the second directory, label and macro the pages whose description names them."""
    import tifffile

    with tifffile.TiffFile(filename) as tif:
        pages = list(tif.pages)
        if associated == "thumbnail":
            page = pages[1]
        else:
            page = next(p for p in pages[1:] if associated in (p.description or "").lower())
        pixels = page.asarray()
    alpha = np.full((*pixels.shape[:2], 1), 255, dtype=np.uint8)  # libvips's loader: RGBA
    rgba = np.concatenate([pixels[..., :3], alpha], axis=2)
    return pyvips.Image.new_from_array(rgba).copy(interpretation="srgb")


def openslideload(filename: str, **kwargs: object) -> pyvips.Image:
    name = kwargs.get("associated")
    if name:
        return _associated(filename, str(name))
    return _openslideload(filename, **kwargs)


pyvips.Image.openslideload = staticmethod(openslideload)


def main() -> None:
    command, *rest = sys.argv[1:]
    if command == "serve":
        import uvicorn

        port = int(rest[rest.index("--port") + 1]) if "--port" in rest else 5913
        uvicorn.run("pims.application:app", host="127.0.0.1", port=port, workers=1)
    elif command == "import":
        import runpy

        sys.argv = ["import_local_images", "--path", rest[0]]
        runpy.run_module("pims.importer.import_local_images", run_name="__main__")
    else:
        raise SystemExit(f"unknown command {command}: serve or import")


if __name__ == "__main__":
    main()
