"""PIMS's colormaps from the precomputed tables: ids, inversion, constant colours, anchors."""

from __future__ import annotations

import numpy as np
import pytest

from cytotile.errors import BadParameter
from cytotile.pipeline import colormaps

PIMS_TYPES = {"PERCEPTUAL_UNIFORM", "SEQUENTIAL", "DIVERGING", "CYCLIC", "QUALITATIVE",
              "MISCELLANEOUS"}  # fmt: skip


def rgb255(cid: str, index: int) -> list[int]:
    return [round(v * 255) for v in colormaps.lut(colormaps.normalize_id(cid))[index].tolist()]


def test_the_82_maps() -> None:
    items = colormaps.describe()
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 82
    assert ids[0] == "VIRIDIS" and ids[-1] == "GIST_NCAR"
    assert {"HEATMAP", "TURBO", "TAB20C", "TWILIGHT_SHIFTED", "GIST_YARG"} <= set(ids)
    assert {i["type"] for i in items} == PIMS_TYPES
    assert len(colormaps.describe(with_inverted=True)) == 164
    for cid in ids:
        table = colormaps.lut(cid)
        assert table.shape == (256, 3) and table.dtype == np.float32
        assert not table.flags.writeable


@pytest.mark.parametrize(
    ("cid", "index", "expected"),
    [  # published anchors of the maps (matplotlib's definitions, rounded to 8 bits)
        ("viridis", 0, [68, 1, 84]),
        ("viridis", 255, [253, 231, 37]),
        ("magma", 0, [0, 0, 4]),
        ("greys", 0, [255, 255, 255]),
        ("greys", 255, [0, 0, 0]),
        ("hot", 255, [255, 255, 255]),
        ("jet", 0, [0, 0, 128]),
        ("jet", 255, [128, 0, 0]),
        ("heatmap", 0, [0, 0, 255]),
        ("heatmap", 255, [255, 0, 0]),
        ("tab10", 0, [31, 119, 180]),
        ("set1", 0, [228, 26, 28]),
        ("binary", 0, [255, 255, 255]),
    ],
)
def test_anchors(cid: str, index: int, expected: list[int]) -> None:
    assert rgb255(cid, index) == expected


def test_inverted_is_reversed() -> None:
    for cid in ("VIRIDIS", "JET", "TAB10", "RED", "#123456"):
        assert np.array_equal(colormaps.lut("!" + cid), colormaps.lut(cid)[::-1])


def test_constant_colours() -> None:
    assert rgb255("#f00", 255) == [255, 0, 0] and rgb255("#f00", 0) == [0, 0, 0]
    assert rgb255("#00ff80", 255) == [0, 255, 128]
    assert rgb255("orange", 255) == [255, 165, 0]  # a CSS name
    assert rgb255("!lime", 0) == [0, 255, 0]
    assert rgb255("rebeccapurple", 255) == [102, 51, 153]


def test_ids() -> None:
    assert colormaps.normalize_id(" jet ") == "JET"
    assert colormaps.normalize_id("default") == "DEFAULT"
    assert colormaps.normalize_id("none") == "NONE"
    assert colormaps.normalize_id("!default") == "!DEFAULT"
    assert colormaps.normalize_id("!FF0000") == "!#FF0000"
    assert colormaps.normalize_id("0f0") == "#0F0"
    assert colormaps.normalize_id("!red") == "!RED"
    assert colormaps.normalize_id("!Viridis") == "!VIRIDIS"
    assert colormaps.normalize_id("!#abc") == "!#ABC"
    for bad in ("#12345", "nope", "!none", "#ggg", "12345", "!!red"):
        with pytest.raises(BadParameter):
            colormaps.normalize_id(bad)
    assert colormaps.find("!jet") == {"id": "!JET", "name": "Jet (Inverted)",
                                      "type": "MISCELLANEOUS", "n_colors": 256}  # fmt: skip
    assert colormaps.find("red") is None


def test_short_hex() -> None:
    assert colormaps.short_hex((1.0, 0.0, 0.0)) == "#f00"
    assert colormaps.short_hex((1.0, 1.0, 1.0)) == "#fff"
    assert colormaps.short_hex((0.0, 1.0, 0.5)) == "#00ff80"
