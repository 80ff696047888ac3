"""The lower tiers' padded edge tiles: the edge repeated over the MCU it cuts and the next one,
then one flat colour (not streaks to the tile's end); the pixels inside decode as before."""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg

from cytotile.importer.tiercoding import REPEAT, encode_tile, pad_tile
from tests.helpers.jpegtiff import texture


@pytest.mark.parametrize(("w", "h"), [(37, 256), (256, 100), (3, 5), (240, 250), (256, 256)])
def test_pad_tile(w: int, h: int) -> None:
    tile = texture(w, h)
    out = pad_tile(tile)
    assert out.shape == (256, 256, 3)
    keep_w = min(256, (-(-w // REPEAT) + 1) * REPEAT)
    keep_h = min(256, (-(-h // REPEAT) + 1) * REPEAT)
    edge = np.pad(tile, ((0, 256 - h), (0, 256 - w), (0, 0)), mode="edge")
    assert np.array_equal(out[:keep_h, :keep_w], edge[:keep_h, :keep_w])
    mean = np.rint(tile.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
    assert (out[keep_h:] == mean).all() and (out[:, keep_w:] == mean).all()


@pytest.mark.parametrize(("w", "h", "grey"), [(40, 256, False), (256, 77, False), (9, 130, True)])
def test_inside_decodes_as_with_the_edge_repeated(w: int, h: int, grey: bool) -> None:
    tile = texture(w, h)[:, :, :1].copy() if grey else texture(w, h)
    edge = np.pad(tile, ((0, 256 - h), (0, 256 - w), (0, 0)), mode="edge")
    colorspace = "GRAY" if grey else "RGB"
    new = simplejpeg.decode_jpeg(encode_tile(pad_tile(tile), 85), colorspace=colorspace)
    old = simplejpeg.decode_jpeg(encode_tile(edge, 85), colorspace=colorspace)
    assert np.array_equal(new[:h, :w], old[:h, :w])  # chroma upsampling included: max diff 0
    assert len(encode_tile(pad_tile(tile), 85)) < len(encode_tile(edge, 85))
