"""Parsing of request parameters: query strings and JSON bodies alike."""

from __future__ import annotations

import pytest

from cytotile.errors import BadParameter
from cytotile.pipeline.args import Args
from cytotile.pipeline.params import (
    IntensityMode,
    Safety,
    parse_image_params,
    parse_manipulation,
    parse_planes,
    parse_safety,
)
from cytotile.pipeline.regions import Target, parse_target, parse_tile_ref, parse_window
from cytotile.pyramid import Region


def q(**values: str) -> Args:
    return Args.from_query(values.items())


def test_defaults() -> None:
    params = parse_image_params(Args())
    assert params.planes.channels is None and params.planes.z_slice is None
    manip = params.manipulation
    assert manip.min_intensities == (IntensityMode.AUTO_IMAGE,)
    assert manip.gammas == (1.0,) and not manip.log and manip.colormaps == ()
    assert manip.filter is None and manip.bits == 8 and manip.colorspace == "AUTO"
    assert parse_manipulation(Args(), general=True).bits is None  # AUTO


def test_query_and_json_agree() -> None:
    from_query = parse_image_params(
        Args.from_query([("channels", "2,0"), ("channels", "0"), ("gammas", "0.5"),
                         ("min_intensities", "stretch_image,10"), ("log", "true")])
    )  # fmt: skip
    from_json = parse_image_params(
        Args.from_json({"channels": [0, 2], "gammas": 0.5, "log": True,
                        "min_intensities": ["STRETCH_IMAGE", 10]})
    )  # fmt: skip
    assert from_query == from_json
    assert from_query.planes.channels == (0, 2)
    assert from_query.manipulation.min_intensities == (IntensityMode.STRETCH_IMAGE, 10)


def test_json_overrides_query() -> None:
    args = q(gammas="2", log="false").merged(Args.from_json({"gammas": [3, 4], "log": None}))
    manip = parse_manipulation(args)
    assert manip.gammas == (3.0, 4.0) and manip.log is False


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (q(channels="-1"), "channels"),
        (q(channels="a"), "channels"),
        (q(z_reduction="SUM"), "z_reduction"),
        (q(c_reduction="MAX"), "c_reduction"),
        (q(timepoints="x"), "timepoints"),
        (q(gammas="10.5"), "gammas"),
        (q(gammas="nan"), "gammas"),
        (q(gammas="inf"), "gammas"),
        (q(min_intensities="5000000000"), "min_intensities"),
        (q(max_intensities="MIDDLE"), "max_intensities"),
        (q(log="perhaps"), "log"),
        (q(colormaps="plasma2"), "colormaps"),
        (q(filters="otsu,yen"), "filters"),
        (Args.from_json({"channels": True}), "channels"),
        (Args.from_json({"channels": 1.5}), "channels"),
        (Args.from_json({"log": 3}), "log"),
    ],
)
def test_bad_parameters_are_named(args: Args, name: str) -> None:
    with pytest.raises(BadParameter) as caught:
        parse_image_params(args)
    assert caught.value.details.startswith(name)


def test_general_only_parameters() -> None:
    assert parse_manipulation(q(bits="16"), general=True).bits == 16
    assert parse_manipulation(q(bits="auto"), general=True).bits is None
    assert parse_manipulation(q(colorspace="gray"), general=True).colorspace == "GRAY"
    with pytest.raises(BadParameter, match="bits"):
        parse_manipulation(q(bits="12"), general=True)
    with pytest.raises(BadParameter, match="colorspace"):
        parse_manipulation(q(colorspace="lab"), general=True)
    assert parse_manipulation(q(bits="12")).bits == 8  # ignored where not accepted


def test_colormaps_and_filters() -> None:
    manip = parse_manipulation(q(colormaps="jet,!Red,#00ff00", filters="Otsu"))
    assert manip.colormaps == ("JET", "!RED", "#00FF00") and manip.filter == "OTSU"
    assert parse_manipulation(q(colormaps="default")).colormaps == ()
    assert parse_manipulation(q(colormaps="none")).colormaps == ("NONE",)  # grey, not DEFAULT
    assert parse_manipulation(q(colormaps="DEFAULT,!FF0000")).colormaps == ("DEFAULT", "!#FF0000")
    assert parse_manipulation(q(filters="none")).filter is None


def test_targets() -> None:
    assert parse_target(Args(), tiers=False, default_length=256) == Target(length=256)
    assert parse_target(q(width="100"), tiers=False, default_length=256) == Target(width=100)
    assert parse_target(q(length="0.5"), tiers=False).length == 0.5
    assert parse_target(q(zoom="2"), tiers=False, default_length=256) == Target(length=256)
    assert parse_target(q(zoom="2"), tiers=True).zoom == 2
    for bad in (q(length="0"), q(length="1.5"), q(width="-3"), q(height="x")):
        with pytest.raises(BadParameter):
            parse_target(bad, tiers=True)


def test_tile_refs() -> None:
    ref = parse_tile_ref(Args.from_json({"zoom": 3, "tx": 1, "ty": 2}))
    assert (ref.kind, ref.tier, ref.ti, ref.tx, ref.ty) == ("zoom", 3, None, 1, 2)
    assert parse_tile_ref(Args.from_json({"level": 0, "ti": 5})).ti == 5
    for body in ({"ti": 1}, {"zoom": 1, "level": 1, "ti": 0}, {"zoom": 1, "tx": 0}):
        with pytest.raises(BadParameter):
            parse_tile_ref(Args.from_json(body))


def test_windows() -> None:
    region = {"left": 1, "top": 2, "width": 3, "height": 4}
    body = {"region": region, "reference_tier_index": 2, "tier_index_type": "zoom"}
    win = parse_window(Args.from_json(body))
    assert win.region == Region(1, 2, 3, 4) and (win.tier_kind, win.tier) == ("zoom", 2)
    assert parse_window(Args.from_json({"ti": 4})).ti == 4
    with pytest.raises(BadParameter, match="region"):
        parse_window(Args())
    with pytest.raises(BadParameter, match=r"region\.width"):
        parse_window(Args.from_json({"region": {"left": 1, "top": 2, "width": 0, "height": 4}}))


def test_safety() -> None:
    assert parse_safety(None) is Safety.SAFE_REJECT
    assert parse_safety("safe_resize") is Safety.SAFE_RESIZE
    with pytest.raises(BadParameter):
        parse_safety("maybe")


def test_body_must_be_an_object() -> None:
    with pytest.raises(BadParameter):
        Args.from_json([1, 2])
    assert parse_planes(Args.from_json(None)).channels is None


def test_huge_numbers_are_refused() -> None:
    with pytest.raises(BadParameter):
        parse_planes(q(channels="9" * 5000))
