"""Independent readers of the originals: what cytotile's output is compared with.

Each opens the file with another library than the one cytotile's format uses for its pixels
where possible (the vendor's library, OpenSlide, for vendor formats) and answers in plain numpy:
level-0 regions in the original's sample type, a whole-image thumbnail, the associated images
under PIMS's names, the resolution levels, the physical pixel size and magnification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from tests.helpers import synth

OPENSLIDE_ASSOCIATED = {"label": "label", "macro": "macro", "thumbnail": "thumb"}


def resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """``pixels`` (h, w, bands) resized to exactly ``width`` x ``height`` by libvips."""
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels))
    image = image.resize(width / pixels.shape[1], vscale=height / pixels.shape[0])
    out = synth.to_numpy(image.cast(image.format))
    return out[:height, :width]


def on_white(rgba: np.ndarray) -> np.ndarray:
    """8-bit RGBA composited onto white (OpenSlide's transparent areas)."""
    rgb, alpha = rgba[:, :, :3].astype(np.float64), rgba[:, :, 3:4].astype(np.float64) / 255
    return np.rint(rgb * alpha + 255 * (1 - alpha)).astype(np.uint8)


class Reference:
    """An original read by an independent library; by default from a full level-0 array."""

    physical_size: tuple[float, float] | None = None  # micrometers (x, y)
    magnification: float | None = None

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def dimensions(self) -> tuple[int, int]:
        h, w = self.full().shape[:2]
        return w, h

    @property
    def level_dimensions(self) -> list[tuple[int, int]]:
        return [self.dimensions]

    def associated(self) -> dict[str, np.ndarray]:
        """PIMS name (label, macro, thumb) -> 8-bit RGB pixels."""
        return {}

    def full(self) -> np.ndarray:
        raise NotImplementedError

    def region(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        """Level-0 pixels (h, w, bands), in the original's sample type."""
        return self.full()[y : y + h, x : x + w]

    def thumbnail(self, width: int, height: int) -> np.ndarray:
        """The whole image at ``width`` x ``height``."""
        return resize(self.full(), width, height)

    def close(self) -> None:
        pass


class OpenSlideReference(Reference):
    """OpenSlide: the vendor formats' library (and DICOM WSI through openslide-bin 4)."""

    def __init__(self, path: Path) -> None:
        import openslide

        super().__init__(path)
        self.slide = openslide.OpenSlide(str(path))
        props = self.slide.properties
        mpp = props.get("openslide.mpp-x"), props.get("openslide.mpp-y")
        if all(mpp):
            self.physical_size = (float(mpp[0]), float(mpp[1]))  # type: ignore[arg-type]
        power = props.get("openslide.objective-power")
        self.magnification = float(power) if power else None

    @property
    def dimensions(self) -> tuple[int, int]:
        return tuple(self.slide.dimensions)  # type: ignore[return-value]

    @property
    def level_dimensions(self) -> list[tuple[int, int]]:
        return [tuple(d) for d in self.slide.level_dimensions]  # type: ignore[misc]

    def associated(self) -> dict[str, np.ndarray]:
        return {
            OPENSLIDE_ASSOCIATED[k]: on_white(np.asarray(v.convert("RGBA")))
            for k, v in self.slide.associated_images.items()
            if k in OPENSLIDE_ASSOCIATED
        }

    def full(self) -> np.ndarray:
        return self.region(0, 0, *self.dimensions)

    def region(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        return on_white(np.asarray(self.slide.read_region((x, y), 0, (w, h))))

    def thumbnail(self, width: int, height: int) -> np.ndarray:
        level = self.slide.get_best_level_for_downsample(self.dimensions[0] / width)
        lw, lh = self.slide.level_dimensions[level]
        rgba = np.asarray(self.slide.read_region((0, 0), level, (lw, lh)))
        return resize(on_white(rgba), width, height)

    def close(self) -> None:
        self.slide.close()


class ArrayReference(Reference):
    """A reader that gives the whole level 0 at once (small originals)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._full: np.ndarray | None = None

    def full(self) -> np.ndarray:
        if self._full is None:
            arr = self.read()
            arr = arr[:, :, None] if arr.ndim == 2 else arr
            if arr.shape[2] in (2, 4):  # unassociated alpha, composited onto white
                top = 65535.0 if arr.dtype == np.uint16 else 255.0
                color, alpha = arr[:, :, :-1].astype(float), arr[:, :, -1:] / top
                arr = np.rint(color * alpha + top * (1 - alpha)).astype(arr.dtype)
            self._full = arr
        return self._full

    def read(self) -> np.ndarray:
        raise NotImplementedError


class TifffileReference(ArrayReference):
    """tifffile: the first series' level 0, its pyramid levels."""

    def read(self) -> np.ndarray:
        import tifffile

        with tifffile.TiffFile(self.path) as tif:
            page: Any = tif.pages.first
            arr = page.asarray()
            if page.planarconfig == 2 and page.samplesperpixel > 1:
                arr = np.moveaxis(arr, 0, -1)
        return arr.astype(np.uint8) * 255 if arr.dtype == bool else arr

    @property
    def level_dimensions(self) -> list[tuple[int, int]]:
        import tifffile

        with tifffile.TiffFile(self.path) as tif:
            series = tif.series[0]
            x, y = series.axes.index("X"), series.axes.index("Y")
            return [(int(s.shape[x]), int(s.shape[y])) for s in series.levels]


class PillowReference(ArrayReference):
    def read(self) -> np.ndarray:
        from PIL import Image

        with Image.open(self.path) as im:
            mode = "RGB" if im.mode in ("P", "RGB", "YCbCr", "CMYK") else im.mode
            return np.asarray(im.convert(mode))


class VipsReference(ArrayReference):
    """libvips (only for formats whose cytotile reader is not libvips)."""

    def read(self) -> np.ndarray:
        image = pyvips.Image.new_from_file(str(self.path), access="random")
        if image.hasalpha():
            fmt = image.format
            image = image.flatten(background=[255 if fmt == "uchar" else 65535]).cast(fmt)
        return synth.to_numpy(image)
