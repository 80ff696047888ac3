"""IIIF request parsing (region, size, rotation, quality, format) and the stored-tile test."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cytotile.api.iiif.render import stored_tile
from cytotile.api.iiif.request import (
    Limits,
    Rotation,
    Unsupported,
    parse_format,
    parse_quality,
    parse_region,
    parse_rotation,
    parse_size,
)
from cytotile.errors import BadParameter, TooLarge
from cytotile.pipeline.encode import Format
from cytotile.pyramid import Pyramid, Region, Tier

LIMITS = Limits(16383, 16383, 100_000_000)
sides = st.integers(1, 5000)


@given(sides, sides, st.integers(0, 6000), st.integers(0, 6000), sides, sides)
def test_pixel_regions_are_clipped_to_the_image(
    width: int, height: int, x: int, y: int, w: int, h: int
) -> None:
    text = f"{x},{y},{w},{h}"
    if x >= width or y >= height:
        with pytest.raises(BadParameter):
            parse_region(text, width, height)
        return
    region = parse_region(text, width, height)
    assert (region.left, region.top) == (x, y)
    assert region.width == min(w, width - x) and region.height == min(h, height - y)
    assert region.right <= width and region.bottom <= height


thousandths = st.integers(0, 99_000).map(lambda n: n / 1000)


@given(sides, sides, thousandths, thousandths, thousandths, thousandths)
def test_percent_regions_match_the_fractions(
    width: int, height: int, px: float, py: float, pw: float, ph: float
) -> None:
    text = f"pct:{px:.3f},{py:.3f},{pw:.3f},{ph:.3f}"
    try:
        region = parse_region(text, width, height)
    except BadParameter:  # rounds to no area, or starts past the edge
        assert round((px + pw) * width / 100) - round(px * width / 100) <= 0 or (
            round((py + ph) * height / 100) - round(py * height / 100) <= 0
            or round(px * width / 100) >= width
            or round(py * height / 100) >= height
        )
        return
    assert abs(region.left - px * width / 100) <= 0.5
    assert abs(region.top - py * height / 100) <= 0.5
    assert region.right <= width and region.bottom <= height
    assert abs(region.right - min(width, (px + pw) * width / 100)) <= 1


@given(sides, sides)
def test_full_square_and_whole_percent(width: int, height: int) -> None:
    assert parse_region("full", width, height) == Region(0, 0, width, height)
    assert parse_region("pct:0,0,100,100", width, height) == Region(0, 0, width, height)
    square = parse_region("square", width, height)
    assert square.width == square.height == min(width, height)
    assert square.right <= width and square.bottom <= height


@pytest.mark.parametrize(
    "text", ["", "fulll", "1,2,3", "1,2,3,0", "pct:1,2,3", "-1,0,5,5", "a,b,c,d"]
)
def test_bad_regions(text: str) -> None:
    with pytest.raises(BadParameter):
        parse_region(text, 100, 100)


@given(sides, sides, st.integers(1, 5000))
def test_size_by_width_keeps_the_aspect_ratio(rw: int, rh: int, w: int) -> None:
    region = Region(0, 0, rw, rh)
    if w > rw:
        with pytest.raises(BadParameter):  # v3: upscaling needs ^
            parse_size(f"{w},", region, 3, LIMITS)
    try:
        width, height = parse_size(f"^{w},", region, 3, LIMITS)
    except TooLarge:
        assert w * max(1, round(rh * w / rw)) > LIMITS.max_area or rh * w / rw > LIMITS.max_height
        return
    assert width == w
    assert abs(height - rh * w / rw) <= 0.5 or height == 1
    assert parse_size(f"{w},", region, 2, LIMITS) == (width, height)  # v2 upscales freely


@given(sides, sides, st.integers(1, 3000), st.integers(1, 3000))
def test_confined_size_fits_the_box(rw: int, rh: int, bw: int, bh: int) -> None:
    region = Region(0, 0, rw, rh)
    width, height = parse_size(f"^!{bw},{bh}", region, 3, LIMITS)
    assert width <= bw and height <= bh
    assert width == bw or height == bh or min(width, height) <= 1  # one side touches the box
    scale = min(bw / rw, bh / rh)  # the aspect ratio is kept: both sides scale alike
    assert abs(width - rw * scale) <= 0.5 or width == 1
    assert abs(height - rh * scale) <= 0.5 or height == 1
    if round(rw * scale) > rw or round(rh * scale) > rh:
        with pytest.raises(BadParameter):  # upscaling without ^
            parse_size(f"!{bw},{bh}", region, 3, LIMITS)


@given(sides, sides, st.floats(0.1, 100))
def test_percent_sizes(rw: int, rh: int, n: float) -> None:
    region = Region(0, 0, rw, rh)
    try:
        width, height = parse_size(f"pct:{n}", region, 3, LIMITS)
    except BadParameter:
        assert round(rw * n / 100) == 0 or round(rh * n / 100) == 0
        return
    assert abs(width - rw * n / 100) <= 0.5 and abs(height - rh * n / 100) <= 0.5


def test_max_full_and_limits() -> None:
    region = Region(0, 0, 4000, 1000)
    assert parse_size("max", region, 3, LIMITS) == (4000, 1000)
    assert parse_size("max", region, 3, Limits(2000, 2000, 10**9)) == (2000, 500)
    assert parse_size("max", region, 3, Limits(10**5, 10**5, 1_000_000)) == (2000, 500)
    assert parse_size("^max", Region(0, 0, 100, 50), 3, Limits(1000, 1000, 10**9)) == (1000, 500)
    assert parse_size("full", region, 2, LIMITS) == (4000, 1000)
    for text, version in [("full", 3), ("^max", 2), ("^100,", 2), ("0,", 3), (",", 3), ("!5,", 3)]:
        with pytest.raises(BadParameter):
            parse_size(text, region, version, LIMITS)
    with pytest.raises(TooLarge):
        parse_size("^20000,", region, 3, LIMITS)
    assert parse_size("300,200", region, 3, LIMITS) == (300, 200)  # distorted is allowed


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", Rotation()), ("90", Rotation(False, 90.0)), ("!180", Rotation(True, 180.0)),
     ("22.5", Rotation(False, 22.5)), ("360", Rotation()), ("!0", Rotation(True, 0.0))],
)  # fmt: skip
def test_rotations(text: str, expected: Rotation) -> None:
    assert parse_rotation(text) == expected


@pytest.mark.parametrize("text", ["", "-90", "361", "!", "90!", "abc", "1e3"])
def test_bad_rotations(text: str) -> None:
    with pytest.raises(BadParameter):
        parse_rotation(text)


def test_qualities_and_formats() -> None:
    for quality in ("default", "color", "gray", "bitonal"):
        assert parse_quality(quality) == quality
    with pytest.raises(BadParameter):
        parse_quality("grey")
    assert parse_format("jpg") is Format.JPEG and parse_format("webp") is Format.WEBP
    with pytest.raises(Unsupported):
        parse_format("tif")
    with pytest.raises(BadParameter):
        parse_format("jpeg")


@given(st.integers(1, 20000), st.integers(1, 20000), st.data())
def test_every_stored_tile_is_found_and_only_it(
    width: int, height: int, data: st.DataObject
) -> None:
    pyramid = Pyramid(width, height)
    tier = data.draw(st.sampled_from(pyramid.tiers))
    tx = data.draw(st.integers(0, tier.n_tx - 1))
    ty = data.draw(st.integers(0, tier.n_ty - 1))
    tile = tier.tile_region(tx, ty)
    span = tier.tile_width << tier.level
    left, top = tx * span, ty * span
    l0 = Region(left, top, min(span, width - left), min(span, height - top))
    found = stored_tile(pyramid, l0, tile.width, tile.height)
    assert found == (tier, tx, ty) or is_finer_twin(found, l0, (tile.width, tile.height), tier)
    assert_not_this_tile(pyramid, l0, (tile.width + 1, tile.height), tier)
    if l0.width > 1:
        shorter = Region(l0.left, l0.top, l0.width - 1, l0.height)
        assert stored_tile(pyramid, shorter, tile.width, tile.height) is None


def is_finer_twin(
    found: tuple[Tier, int, int] | None, l0: Region, size: tuple[int, int], tier: Tier
) -> bool:
    """Whether ``found`` is a tier finer than ``tier`` whose tile has the footprint ``l0`` and
    the size ``size``: the same request, stored twice (a 1- or 2-pixel image edge: level 0's
    last tile 1 x 1 over (1024, 0) of a 1025 x 1 image is level 1's last one's too)."""
    if found is None:
        return False
    finer, fx, fy = found
    region = finer.tile_region(fx, fy)
    span = finer.tile_width << finer.level
    return (
        finer.level < tier.level
        and (region.width, region.height) == size
        and (fx * span, fy * span) == (l0.left, l0.top)
    )


def assert_not_this_tile(pyramid: Pyramid, l0: Region, size: tuple[int, int], tier: Tier) -> None:
    """A request of ``l0`` at ``size`` (not ``tier``'s tile's size) is no stored tile, or
    exactly a finer tier's over the same footprint, at that tier's own size (a 1-pixel-high
    image: level 0's last tile 2 x 1 is level 1's last 1 x 1 one's footprint)."""
    found = stored_tile(pyramid, l0, *size)
    assert found is None or is_finer_twin(found, l0, size, tier)


def test_a_request_of_a_finer_tiers_own_tile_over_the_same_footprint() -> None:
    """514 x 1: level 1's tile (1, 0) is 1 x 1 over level 0's (512, 0, 2, 1), which is level 0's
    tile (2, 0) at its own 2 x 1: a 2 x 1 request of it is that stored tile."""
    pyramid = Pyramid(514, 1)
    region = Region(512, 0, 2, 1)
    assert stored_tile(pyramid, region, 1, 1) == (pyramid.at_level(1), 1, 0)
    assert stored_tile(pyramid, region, 2, 1) == (pyramid.at_level(0), 2, 0)
    assert_not_this_tile(pyramid, region, (2, 1), pyramid.at_level(1))
    edge = Region(1024, 0, 1, 1)  # 1025 x 1: level 0's tile (4, 0) and level 1's (2, 0)
    found = stored_tile(Pyramid(1025, 1), edge, 1, 1)
    assert found == (Pyramid(1025, 1).at_level(0), 4, 0)
    assert is_finer_twin(found, edge, (1, 1), Pyramid(1025, 1).at_level(1))


def test_a_width_only_request_of_an_edge_tile_is_stored() -> None:
    """``w,`` computes the height from the region's ratio: 245 x 257 for a 489 x 512 region,
    where the stored tile (ceil-halved) is 245 x 256."""
    pyramid = Pyramid(1001, 777)
    region = Region(512, 0, 489, 512)
    assert stored_tile(pyramid, region, 245, 257) is None
    assert stored_tile(pyramid, region, 245, 257, (0, 1)) == (pyramid.at_level(1), 1, 0)
