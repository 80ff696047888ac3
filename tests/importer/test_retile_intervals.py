"""Re-tiling restart intervals (NDPI's stripes): each interval of a single JPEG is a source
tile, decoded alone; the re-tiled level 0 is the source's coefficients."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyvips
import simplejpeg

from cytotile.importer import jpegmarkers as jm
from cytotile.importer.lower import source_strips
from cytotile.importer.retile import JpegLevel, probe, retile
from tests.helpers.jpegtiff import texture
from tests.helpers.samples import sample

MCU, INTERVAL_MCUS = 16, 11  # 4:2:0; 44 MCUs a row of 700 pixels: 4 intervals of 176x16


def interval_level(path: Path, width: int, height: int) -> JpegLevel:
    """A single JPEG with restart markers every INTERVAL_MCUS MCUs, as NDPI stores a level:
    the offsets of the intervals (McuStarts) and one interval's header (its frame resized)."""
    image = pyvips.Image.new_from_array(texture(width, height)).copy(interpretation="srgb")
    stream = bytes(image.jpegsave_buffer(Q=75, restart_interval=INTERVAL_MCUS, keep="none"))
    path.write_bytes(stream)
    sos_end = jm.segments(stream)[-1][2]
    starts = [sos_end]
    pos = sos_end
    while (pos := stream.find(b"\xff", pos)) != -1 and pos < len(stream) - 2:
        if 0xD0 <= stream[pos + 1] <= 0xD7:
            starts.append(pos + 2)
        pos += 2 if stream[pos + 1] != 0xFF else 1
    ends = [*starts[1:], len(stream)]
    header = bytearray(stream[:sos_end])
    for marker, start, _ in jm.segments(stream):
        if marker == 0xC0:
            struct.pack_into(">HH", header, start + 5, MCU, MCU * INTERVAL_MCUS)
    frame = jm.frame(bytes(header))
    assert frame is not None and (frame.width, frame.height) == (MCU * INTERVAL_MCUS, MCU)
    tile = (MCU * INTERVAL_MCUS, MCU)
    counts = tuple(e - s for s, e in zip(starts, ends, strict=True))
    quant = jm.quant_tables(stream)
    return JpegLevel(path, width, height, *tile, tuple(starts), counts, None, 6, frame, quant,
                     bytes(header))  # fmt: skip


def test_restart_intervals_are_source_tiles(tmp_path: Path) -> None:
    width, height = 700, 90  # the last MCU row partial, the last interval's last MCU too
    level = interval_level(tmp_path / "stripes.jpg", width, height)
    assert (level.n_tx, level.n_ty) == (4, 6)
    # the intervals decoded alone, row by row, as OpenSlide reads NDPI (the lower tiers' input)
    reference = np.concatenate(list(source_strips(level))).astype(np.int16)
    assert reference.shape == (height, width, 3)
    whole = simplejpeg.decode_jpeg((tmp_path / "stripes.jpg").read_bytes()).astype(np.int16)
    assert int(np.abs(reference - whole).max()) <= 32  # only chroma upsampling at the seams
    seams = np.zeros((height, width), bool)  # 2 pixels either side of every seam
    for step, axis in ((MCU * INTERVAL_MCUS, 1), (MCU, 0), (256, 0), (256, 1)):
        size = (height, width)[axis]
        edges = np.append(np.arange(0, size + step, step), size)  # the image's edge too
        index = np.concatenate([np.arange(e - 2, e + 2) for e in edges])
        index = index[(index >= 0) & (index < size)]
        if axis == 0:
            seams[index, :] = True
        else:
            seams[:, index] = True
    tiles = list(retile(level, tmp_path))
    assert len(tiles) == 3 * 1
    for tile in tiles:
        x0, y0 = tile.tx * 256, tile.ty * 256
        w, h = min(256, width - x0), min(256, height - y0)
        assert tile.exact is not None  # 90 rows: every tile is an edge tile
        served = simplejpeg.decode_jpeg(tile.exact).astype(np.int16)
        assert served.shape == (h, w, 3)
        expected, inside = reference[y0 : y0 + h, x0 : x0 + w], ~seams[y0 : y0 + h, x0 : x0 + w]
        assert np.array_equal(served[inside], expected[inside]), (tile.tx, tile.ty)
        assert int(np.abs(served - expected).max()) <= 32


def test_ndpi_level0_is_openslides_exactly(tmp_path: Path) -> None:
    """test3-DAPI.ndpi: 608 restart intervals of 3968x8 (4:4:4): re-tiled, not re-encoded."""
    import openslide

    from cytotile.formats.openslide.ndpi import NdpiFormat
    from cytotile.importer.convert import convert
    from cytotile.storage.local import LocalStorage
    from cytotile.tiff.reader import PyramidReader

    path = sample("test3-DAPI.ndpi")
    level = probe(path)
    assert (level.tile_width, level.tile_height, level.header is not None) == (3968, 8, True)
    with NdpiFormat.open(path) as source:
        assert source.tiff_page == (path, 0)
        result = convert(source, tmp_path / "ndpi.pyr.tif", workdir=tmp_path)
    assert result.method == "dct-retile"
    assert result.size < path.stat().st_size
    reader = PyramidReader.load(LocalStorage(tmp_path), "ndpi.pyr.tif")
    with openslide.OpenSlide(str(path)) as slide:
        for tx, ty in ((0, 0), (7, 9), (15, 18)):  # 15, 18: the right and bottom edge tile
            tile = reader.read_tile(0, 0, tx, ty)[:, :, :3].astype(np.int16)
            size = (tile.shape[1], tile.shape[0])
            theirs = np.asarray(slide.read_region((tx * 256, ty * 256), 0, size))[:, :, :3]
            assert np.array_equal(tile, theirs.astype(np.int16)), (tx, ty)
