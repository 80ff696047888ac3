"""Level 0's padded edge tiles: the blocks an MCU and more beyond the image's edge are blank
(zero coefficients) instead of the source's own padding; the pixels inside do not change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simplejpeg

from cytotile.importer import dctretile
from cytotile.importer.retile import RetiledTile, probe, retile
from tests.helpers.jpegtiff import libjpeg, texture, write_jpeg_tiff

# source tiles of 240: its grid reaches 720 x 480, its padding (the edge repeated: streaks) is
# textured; the output's edge tiles hold 88 x 44 pixels of the image
WIDTH, HEIGHT = 600, 300


def tiles(tmp_path: Path, photometric: int) -> list[RetiledTile]:
    pixels = texture(WIDTH, HEIGHT)
    if photometric == 1:
        pixels = pixels[:, :, :1].copy()
    encode = libjpeg(80, subsample=photometric == 6)
    src = write_jpeg_tiff(tmp_path / "s.tif", pixels, 240, encode, photometric=photometric)
    return list(retile(probe(src), tmp_path, threads=1))


def pixels_of(stream: bytes) -> np.ndarray:
    """libjpeg-turbo's decode (its "fancy" chroma upsampling reads the neighbouring blocks)."""
    grey = stream.count(b"\xff\xc0") and stream[stream.index(b"\xff\xc0") + 9] == 1
    return simplejpeg.decode_jpeg(stream, colorspace="GRAY" if grey else "RGB")


@pytest.mark.parametrize("photometric", [6, 2, 1], ids=["ycbcr-420", "rgb-444", "grey"])
def test_padding_blank_and_the_inside_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, photometric: int
) -> None:
    pytest.importorskip("cytotile.importer._jpegdct")
    blank = tiles(tmp_path, photometric)
    full = lambda mcu, width, height: (256 // mcu[0], 256 // mcu[1])  # noqa: E731
    monkeypatch.setattr(dctretile, "kept", full)  # every block the source's
    before = tiles(tmp_path, photometric)
    mcu = 16 if photometric == 6 else 8
    saved = 0
    for a, b in zip(blank, before, strict=True):
        w, h = min(256, WIDTH - a.tx * 256), min(256, HEIGHT - a.ty * 256)
        if (w, h) == (256, 256):
            assert a.data == b.data
            continue
        assert a.exact == b.exact  # the exact-size tile has no padding
        new, old = pixels_of(a.padded), pixels_of(b.padded)
        assert np.array_equal(new[:h, :w], old[:h, :w]), (a.tx, a.ty)  # max diff 0 inside
        keep_x, keep_y = (-(-w // mcu) + 1) * mcu, (-(-h // mcu) + 1) * mcu
        # beyond the kept MCU and the upsampling's reach: zero coefficients, mid-grey; before,
        # the source's padding
        for region in (np.s_[keep_y + mcu :], np.s_[:, keep_x + mcu :]):
            if new[region].size:
                assert (new[region] == 128).all() and not (old[region] == 128).all()
        saved += len(b.data) - len(a.data)
    assert saved > 0


def test_the_jpeglib_path_blanks_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback without the C codec gives the same padded pixels."""
    pytest.importorskip("cytotile.importer._jpegdct")
    fast = tiles(tmp_path, 6)
    monkeypatch.setattr(dctretile, "codec", lambda: None)
    slow = tiles(tmp_path, 6)
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(pixels_of(a.padded), pixels_of(b.padded)), (a.tx, a.ty)
