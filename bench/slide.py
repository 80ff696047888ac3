"""A synthetic H&E-like slide, generated once with cheap libvips ops and cached.

Tissue islands (low-frequency Perlin noise, thresholded with a soft edge) on a slightly noisy
white background; inside them pink stroma of varying density (Perlin), purple nuclei (Worley
cells) and grain (Gaussian noise), so that tiles compress like real tissue, not a flat colour.
The texture is computed once on a square of at most 4096 pixels and repeated (cheap); the mask
is computed at 1/32 scale and enlarged, so a 40000x30000 slide costs about a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cytotile.formats.base import ImageMetadata, Source
from cytotile.synthetic import save_slide

if TYPE_CHECKING:
    import pyvips

GEN_VERSION = 2  # bump when the generator changes: cached slides are then regenerated
#: written like a scanner's level 0: 240x240 JPEG tiles (Aperio's size), YCbCr 4:2:0, quality 75
SOURCE_TILE, SOURCE_QUALITY = 240, 75
MASK_SCALE = 32


def _texture(size: int, seed: int) -> pyvips.Image:
    import pyvips

    density = (pyvips.Image.perlin(size, size, cell_size=128, seed=seed) + 1) * 0.5
    fine = pyvips.Image.perlin(size, size, cell_size=16, seed=seed + 1) * 0.12
    cells = pyvips.Image.worley(size, size, cell_size=34, seed=seed + 2)
    nuclei = ((5.5 - cells) * 0.7).clamp(min=0, max=1) * (density * 2.2 - 0.8).clamp(min=0, max=1)
    grain = pyvips.Image.gaussnoise(size, size, sigma=7, mean=0, seed=seed + 3)
    stain = (density * 0.5 + 0.2 + fine).clamp(min=0, max=1)
    eosin = stain.linear([225 - 250, 110 - 245, 175 - 248], [250, 245, 248])
    hematoxylin = density.linear([-30, -25, -20], [105, 65, 150])
    texture = eosin + (hematoxylin - eosin) * nuclei + grain
    return texture.cast("uchar").copy_memory()


def _background(size: int, seed: int) -> pyvips.Image:
    import pyvips

    grain = pyvips.Image.gaussnoise(size, size, sigma=2.5, mean=0, seed=seed)
    return grain.linear([1, 1, 1], [243, 241, 244]).cast("uchar").copy_memory()


def _repeat(tile: pyvips.Image, width: int, height: int) -> pyvips.Image:
    across, down = width // tile.width + 1, height // tile.height + 1
    return tile.replicate(across, down).crop(0, 0, width, height)


def tissue(width: int, height: int, seed: int = 1) -> pyvips.Image:
    """A lazy uchar RGB image of ``width`` x ``height``: nothing is computed until it is saved."""
    import pyvips

    small = pyvips.Image.perlin(
        width // MASK_SCALE + 2, height // MASK_SCALE + 2, cell_size=48, seed=seed
    )
    mask = ((small + 0.08) * 8 * 255).clamp(min=0, max=255).cast("uchar")
    mask = mask.resize(MASK_SCALE, kernel="linear").crop(0, 0, width, height)
    side = 4096 if max(width, height) >= 16384 else 2048 if max(width, height) >= 4096 else 1024
    texture = _repeat(_texture(side, seed + 10), width, height)
    background = _repeat(_background(1024, seed + 20), width, height)
    return mask.ifthenelse(texture, background, blend=True)


def slide_path(cache: Path, width: int, height: int) -> Path:
    return cache / f"tissue-{width}x{height}-v{GEN_VERSION}.tif"


def ensure_slide(cache: Path, width: int, height: int) -> tuple[Path, bool]:
    """The plain (not pyramidal) tiled JPEG TIFF of the slide; True when it was just generated."""
    path = slide_path(cache, width, height)
    if path.is_file():
        return path, False
    save_slide(tissue(width, height), path, tile=SOURCE_TILE, quality=SOURCE_QUALITY)
    return path, True


class TiffSource(Source):
    """The slide as the converter's input: one interleaved RGB uint8 plane."""

    def __init__(self, path: Path) -> None:
        import pyvips

        self.path = path
        self.tiff_page = (path, 0)  # as the TIFF formats say: a JPEG-tiled level 0 is re-tiled
        head = pyvips.Image.new_from_file(str(path))
        self.metadata = ImageMetadata(
            format_id="PLANARTIFF",
            width=head.width,
            height=head.height,
            n_channels=3,
            n_concrete_channels=1,
            n_samples=3,
            pixel_type="uint8",
            significant_bits=8,
        )

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        import pyvips

        return pyvips.Image.new_from_file(str(self.path), access="sequential", fail_on="error")
