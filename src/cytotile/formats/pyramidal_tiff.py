"""Pyramidal TIFF: tiled pages of decreasing sizes, no vendor signature; level 0 is page 0."""

from __future__ import annotations

from pathlib import Path

from cytotile.formats import tiffutil
from cytotile.formats.base import Format, Source
from cytotile.formats.planar_tiff import open_tiff, plain_tiff


class PyramidalTiffFormat(Format):
    id = "PYRTIFF"
    name = "Pyramidal TIFF"
    remarks = "Tiled TIFF whose pages form a pyramid of decreasing sizes, 8 or 16 bits."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not tiffutil.is_tiff(head):
            return False
        info = tiffutil.inspect(path)
        return plain_tiff(info) and len(tiffutil.pyramid_pages(info)) >= 2

    @classmethod
    def open(cls, path: Path) -> Source:
        info = tiffutil.inspect(path)
        levels = tiffutil.pyramid_pages(info)
        source = open_tiff(cls.id, path, levels, info)
        raw = source.metadata.raw_metadata
        raw["pyrtiff.Levels"] = len(levels)
        raw["pyrtiff.LevelSizes"] = [f"{p.width}x{p.height}" for p in levels]
        raw["pyrtiff.TileSize"] = f"{levels[0].tile_width}x{levels[0].tile_height}"
        return source
