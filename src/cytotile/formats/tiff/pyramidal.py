"""Pyramidal TIFF: tiled pages of decreasing sizes, no vendor signature; level 0 is page 0."""

from __future__ import annotations

from pathlib import Path

from cytotile.formats.base import ORDER_TIFF, Format, Source
from cytotile.formats.tiff import structure
from cytotile.formats.tiff.planar import open_tiff, plain_tiff


class PyramidalTiffFormat(Format):
    id = "PYRTIFF"
    name = "Pyramidal TIFF"
    order = ORDER_TIFF + 10
    remarks = "Tiled TIFF whose pages form a pyramid of decreasing sizes, 8 or 16 bits."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        if not structure.is_tiff(head):
            return False
        info = structure.inspect(path)
        return plain_tiff(info) and len(structure.pyramid_pages(info)) >= 2

    @classmethod
    def open(cls, path: Path) -> Source:
        info = structure.inspect(path)
        levels = structure.pyramid_pages(info)
        source = open_tiff(cls.id, path, levels, info)
        raw = source.metadata.raw_metadata
        raw["pyrtiff.Levels"] = len(levels)
        raw["pyrtiff.LevelSizes"] = [f"{p.width}x{p.height}" for p in levels]
        raw["pyrtiff.TileSize"] = f"{levels[0].tile_width}x{levels[0].tile_height}"
        return source
