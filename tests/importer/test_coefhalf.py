"""Level 1's rows made by the re-tiling bands (``coefhalf.HalfRows``): taken in order whatever
order the bands put them in, the bands' lead bounded, nobody left waiting when either side
stops; and the conversion's lower tiers from them (a failing band or tier fails the import,
never hangs it)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest

from cytotile.importer import coefhalf
from cytotile.importer.dctlevel import Coding, codec
from cytotile.importer.retile import JpegLevel, probe
from tests.helpers.jpegtiff import libjpeg, texture, write_jpeg_tiff

TILE = 64


def level_of(tmp: Path, width: int = 320, height: int = 640) -> JpegLevel:
    return probe(write_jpeg_tiff(tmp / "l.tif", texture(width, height), TILE, libjpeg(80)))


def flat_row(coding: Coding, value: int) -> tuple[np.ndarray, ...]:
    """Coefficient planes of one source row whose pixels are all ``value`` (DC only)."""
    level = coding.level
    planes = coding.planes(level.n_tx * level.tile_width, level.tile_height)
    assert coding.quant is not None
    dc = int.from_bytes(coding.quant[:2], "little")  # luma table 0 (libjpeg's)
    planes[0][..., 0] = round((value - 128) * 8 / dc)
    return planes


def test_rows_in_order_whatever_the_bands_order(tmp_path: Path) -> None:
    level = level_of(tmp_path)
    lib = codec()
    assert lib is not None and coefhalf.supported(level, lib)
    coding = Coding(level, lib)
    halves = coefhalf.HalfRows(level, lib)
    values = {sy: 20 + 20 * sy for sy in range(level.n_ty)}
    order = [3, 1, 0, 2, 9, 4, 8, 5, 7, 6]

    def band(rows: list[int]) -> None:
        for sy in rows:
            halves.put(sy, flat_row(coding, values[sy]), coding)

    threads = [threading.Thread(target=band, args=(order[k::2],)) for k in range(2)]
    for thread in threads:
        thread.start()
    got = [(sy, strip.copy(), counts) for sy, strip, counts in halves.rows()]  # made again
    for thread in threads:
        thread.join()
    coding.close()
    assert [sy for sy, _, _ in got] == list(range(level.n_ty))
    for sy, strip, counts in got:
        luma = strip[..., 0]  # Y only: the chroma planes are 128 (DC 0), so R = G = B = Y
        assert abs(int(luma.mean()) - values[sy]) <= 2 and int(luma.max() - luma.min()) == 0
        assert int(counts.sum()) == 4 * strip.size  # 4 counts a level-1 pixel


def test_the_bands_lead_is_bounded_and_stop_releases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    level = level_of(tmp_path)
    lib = codec()
    assert lib is not None
    monkeypatch.setattr(coefhalf, "AHEAD_BYTES", 1)  # 2 rows ahead at most
    coding = Coding(level, lib)
    halves = coefhalf.HalfRows(level, lib)
    assert halves.ahead == 2
    halves.put(1, flat_row(coding, 50), coding)  # within the lead: returns
    late = threading.Thread(target=halves.put, args=(2, flat_row(coding, 50), coding))
    late.start()
    late.join(0.3)
    assert late.is_alive()  # row 2 waits until row 0 is taken
    halves.stop()
    late.join(5)
    assert not late.is_alive()
    with pytest.raises(coefhalf.Stopped):
        next(halves.rows())
    coding.close()


def test_a_missing_row_fails_once_closed(tmp_path: Path) -> None:
    level = level_of(tmp_path)
    lib = codec()
    assert lib is not None
    halves = coefhalf.HalfRows(level, lib)
    halves.close()
    with pytest.raises(coefhalf.Stopped, match="row 0"):
        next(halves.rows())


def test_supported_samplings(tmp_path: Path) -> None:
    level = level_of(tmp_path)
    lib = codec()
    assert coefhalf.supported(level, lib)
    assert not coefhalf.supported(level, None)
    frame = level.frame
    c0 = frame.components[0]
    for sampling in ((2, 1), (4, 1), (4, 4)):  # 4:2:2, 4:1:1, 4:1:0 (chroma 4x4 at half scale)
        components = ((c0[0], *sampling, c0[3]), *frame.components[1:])
        odd = dataclasses.replace(level, frame=dataclasses.replace(frame, components=components))
        assert not coefhalf.supported(odd, lib)


def test_conversion_fails_not_hangs_when_a_tier_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error in the lower tiers' thread reaches the caller while the bands keep going."""
    from cytotile.importer import jpegpath, lower

    level = level_of(tmp_path, 640, 1280)
    monkeypatch.setattr(jpegpath, "COMPLETE_PIXELS", 1)

    def broken(self: lower.TierBuilder, strip: np.ndarray) -> None:
        raise RuntimeError("tier broke")

    monkeypatch.setattr(lower.TierBuilder, "feed", broken)
    sizes = [(640, 1280), (320, 640), (160, 320)]
    from cytotile.tiff import layout as L

    header = L.PyramidHeader(640, 1280, len(sizes), n_samples=3)
    with pytest.raises(RuntimeError, match="tier broke"):
        jpegpath.write_jpeg_pyramid(level, tmp_path / "out.tif", header, sizes, 80, tmp_path)
    assert not (tmp_path / "out.tif").exists()  # nothing half-written left behind
