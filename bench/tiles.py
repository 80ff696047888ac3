"""Tiles: the median cost of one random normalized 256x256 JPEG tile, cytotile against peers.

Every peer serves the same random tiles (same seed, level drawn uniformly, then a tile of that
level), after the same untimed warm-up, with its files in the page cache:

- cytotile passthrough: ``jpeg_tile`` on LocalStorage (stored bytes + JPEG tables, no decode);
- its floor: the same bytes by ``os.pread`` on an already open file (no storage layer);
- cytotile decode path: ``read_tile`` + ``simplejpeg.encode_jpeg(quality=85)``;
- OpenSlide ``DeepZoomGenerator(tile_size=256, overlap=0).get_tile`` + PIL JPEG (quality 85) on
  the libvips pyramidal TIFF (OpenSlide's generic tiled TIFF);
- pyvips: crop of the tier (a page of the cytotile pyramid) + ``jpegsave_buffer(Q=85)``;
- large_image when installed.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.common import Row, Section, median_per_item
from cytotile.pyramid import Pyramid
from cytotile.tiff.reader import PyramidReader

Tile = tuple[int, int, int]  # level, tx, ty
Server = Callable[[Tile], bytes]
FLOOR_PASSTHROUGH_S = 6e-6  # DESIGN.md, "Measured floors on this machine"
FLOOR_DECODE_ENCODE_S = 0.5e-3
OPENSLIDE_TARGET = 100.0  # passthrough at least this many times faster than DeepZoom


def sample_tiles(pyramid: Pyramid, n: int, seed: int = 1234) -> list[Tile]:
    rng = random.Random(seed)
    tiles = []
    for _ in range(n):
        tier = pyramid.tiers[rng.randrange(pyramid.n_tiers)]
        tiles.append((tier.level, rng.randrange(tier.n_tx), rng.randrange(tier.n_ty)))
    return tiles


def passthrough(reader: PyramidReader) -> Server:
    return lambda t: reader.jpeg_tile(0, *t)


def raw_pread(reader: PyramidReader, path: Path, stack: ExitStack) -> Server:
    """The floor under passthrough: the same bytes by ``os.pread`` on an open file + tables."""
    fd = os.open(path, os.O_RDONLY)
    stack.callback(os.close, fd)

    def serve(t: Tile) -> bytes:
        level, tx, ty = t
        tier = reader.tier(0, level)
        ti = ty * tier.n_tx + tx
        if ti in tier.edge_tiles:
            return os.pread(fd, tier.edge_tiles[ti][1], tier.edge_tiles[ti][0])
        data = os.pread(fd, tier.byte_counts[ti], tier.offsets[ti])
        return tier.jpeg_tables[:-2] + data[2:] if tier.jpeg_tables else data

    return serve


def decode_encode(reader: PyramidReader) -> Server:
    import simplejpeg

    return lambda t: simplejpeg.encode_jpeg(reader.read_tile(0, *t), quality=85)


def openslide_deepzoom(path: Path, pyramid: Pyramid, stack: ExitStack) -> Server:
    import openslide
    from openslide.deepzoom import DeepZoomGenerator

    slide = stack.enter_context(openslide.OpenSlide(str(path)))
    deepzoom = DeepZoomGenerator(slide, tile_size=256, overlap=0)
    top = deepzoom.level_count - 1  # Deep Zoom counts from 1x1 up; it halves with ceil too
    for tier in pyramid.tiers:
        if deepzoom.level_dimensions[top - tier.level] != (tier.width, tier.height):
            raise RuntimeError(f"Deep Zoom level {top - tier.level} is not tier {tier.level}")

    def serve(t: Tile) -> bytes:
        level, tx, ty = t
        buf = io.BytesIO()
        deepzoom.get_tile(top - level, (tx, ty)).save(buf, "JPEG", quality=85)
        return buf.getvalue()

    return serve


def pyvips_crop(path: Path, pyramid: Pyramid) -> Server:
    import pyvips

    pages = [pyvips.Image.new_from_file(str(path), page=tier.level) for tier in pyramid.tiers]

    def serve(t: Tile) -> bytes:
        level, tx, ty = t
        r = pyramid.tiers[level].tile_region(tx, ty)
        return bytes(pages[level].crop(r.left, r.top, r.width, r.height).jpegsave_buffer(Q=85))

    return serve


def large_image_peer(path: Path, pyramid: Pyramid) -> Server:
    """large_image's tiff source on the same pyramid, ICC correction off: its stored tiles
    passed through (bench/large_image_peer.py)."""
    from bench.large_image_peer import open_source, unavailable

    missing = unavailable()
    if missing is not None:
        raise ImportError(missing)
    source = open_source(path)
    top = source.levels - 1

    def serve(t: Tile) -> bytes:
        level, tx, ty = t
        return bytes(source.getTile(tx, ty, top - level))

    return serve


def measure(
    section: Section, name: str, make: Callable[[], Server], tiles: list[Tile], ref: float | None
) -> float | None:
    """Time one peer into ``section``; ImportError is a skip, anything else an error."""
    try:
        serve = make()
        seconds = median_per_item(serve, tiles, warmup=min(50, len(tiles)))
    except ImportError as exc:
        section.rows.append(Row(name, None, "s", note=f"skipped: {exc.name or exc} not installed"))
        return None
    except Exception as exc:
        section.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        section.rows.append(Row(name, None, "s", note=f"error: {exc}"))
        return None
    ratio = seconds / ref if ref else 1.0
    section.rows.append(Row(name, seconds, "s", ratio, note=f"median of {len(tiles)}"))
    return seconds


def bench_tiles(
    reader: PyramidReader, pyramid_path: Path, openslide_path: Path, n: int
) -> tuple[Section, list[Tile]]:
    import pyvips

    section = Section(f"Tiles (random normalized 256x256 JPEG tiles, n={n})", "vs passthrough")
    pyramid = Pyramid(reader.header.width, reader.header.height)
    tiles = sample_tiles(pyramid, n)
    ref = measure(section, "cytotile passthrough", lambda: passthrough(reader), tiles, None)
    if ref is None:
        return section, tiles
    stack = ExitStack()
    ops = [
        ("raw pread + tables, open fd", lambda: raw_pread(reader, pyramid_path, stack)),
        ("cytotile decode + encode", lambda: decode_encode(reader)),
        ("OpenSlide DeepZoom + PIL", lambda: openslide_deepzoom(openslide_path, pyramid, stack)),
        ("pyvips crop + jpegsave", lambda: pyvips_crop(pyramid_path, pyramid)),
        ("large_image getTile", lambda: large_image_peer(openslide_path, pyramid)),
    ]
    cache_max = pyvips.cache_get_max()
    pyvips.cache_set_max(0)  # no operation cache: every crop is really cut
    try:
        for name, make in ops:
            seconds = measure(section, name, make, tiles, ref)
            if seconds is not None and name.startswith("OpenSlide"):
                row = section.rows[-1]
                row.target = f">= {OPENSLIDE_TARGET:.0f}x passthrough"
                row.ok = seconds / ref >= OPENSLIDE_TARGET
    finally:
        pyvips.cache_set_max(cache_max)
        stack.close()
    return section, tiles


def add_floors(section: Section, ref: float) -> None:
    """DESIGN.md's measured floors, for comparison (not measured by this run)."""
    for name, seconds in (
        ("floor: raw passthrough (DESIGN.md)", FLOOR_PASSTHROUGH_S),
        ("floor: decode + encode (DESIGN.md)", FLOOR_DECODE_ENCODE_S),
    ):
        section.rows.append(Row(name, seconds, "s", seconds / ref, note="reference only"))
