"""Planes too large to assemble in memory (CZI mosaics, OME pages in codecs libvips lacks):
written piece by piece into a temporary raw file that libvips then maps."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from cytotile.formats.microscopy.planes import VIPS, array_to_vips, to_served

if TYPE_CHECKING:
    import numpy as np
    import pyvips

#: libvips formats of the sample types as stored (before serving)
VIPS_LOAD = {**VIPS, "int8": "char", "int16": "short", "int32": "int"}


class RawPlanes:
    """Planes too large to assemble in memory, written piece by piece into a temporary raw file
    that libvips then maps: bounded memory whatever the plane size. One file at a time (the
    converter reads planes one after the other); removed on ``close``."""

    IN_MEMORY = 64 * 2**20  # planes up to this size are assembled in memory

    def __init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._path: Path | None = None

    def canvas(self, shape: tuple[int, int, int], dtype: str) -> np.ndarray:
        """A zeroed (h, w, samples) array: in memory when small, else file-backed."""
        import numpy as np

        if shape[0] * shape[1] * shape[2] * np.dtype(dtype).itemsize <= self.IN_MEMORY:
            return np.zeros(shape, dtype)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cytotile-plane-")
        if self._path is not None:
            self._path.unlink(missing_ok=True)
        self._path = Path(self._tmp.name, f"plane-{uuid.uuid4().hex}.raw")
        return np.memmap(self._path, dtype, "w+", shape=shape)

    def image(self, canvas: np.ndarray, sample_type: str, bgr: bool = False) -> pyvips.Image:
        """The assembled plane as a libvips image of the served type."""
        import numpy as np
        import pyvips

        if not isinstance(canvas, np.memmap):
            return array_to_vips(canvas[..., ::-1] if bgr else canvas, sample_type)
        height, width, samples = canvas.shape
        canvas.flush()
        path = str(canvas.filename)
        image = pyvips.Image.rawload(path, width, height, samples, format=VIPS_LOAD[sample_type])
        if bgr:
            image = image[2].bandjoin([image[1], image[0]])
        return to_served(image, sample_type)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
