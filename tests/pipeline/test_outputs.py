"""The operations over a deployed image, without HTTP."""

from __future__ import annotations

import numpy as np
import pytest
import pyvips

from cytotile.errors import BadParameter, ImageNotFound, TooLarge
from cytotile.formats.base import ImageMetadata
from cytotile.pipeline import outputs, render
from cytotile.pipeline.args import Args
from cytotile.pipeline.encode import Format
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import (
    ImageParams,
    Manipulation,
    PlaneSelection,
    Safety,
    parse_image_params,
)
from cytotile.pipeline.regions import Target, WindowInput
from cytotile.pyramid import Region
from cytotile.storage.local import LocalStorage
from tests.helpers.deployed import (
    ArraySource,
    Deployed,
    deploy,
    multi_source,
    rgb_source,
    u16_source,
)


def decode(data: bytes) -> np.ndarray:
    array = pyvips.Image.new_from_buffer(data, "").numpy()
    return array[..., None] if array.ndim == 2 else array


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> LocalStorage:
    return LocalStorage(tmp_path_factory.mktemp("outputs"))


@pytest.fixture(scope="module")
def rgb(storage: LocalStorage) -> Deployed:
    return deploy(storage, rgb_source(600, 300), "rgb.tif")


@pytest.fixture(scope="module")
def u16(storage: LocalStorage) -> Deployed:
    return deploy(storage, u16_source(300, 200), "u16.tif")


@pytest.fixture(scope="module")
def multi(storage: LocalStorage) -> Deployed:
    return deploy(storage, multi_source(100, 80, depth=2), "multi.tif")


def test_open(storage: LocalStorage, rgb: Deployed) -> None:
    view = ImageView.open(storage, rgb.path)
    assert view.n_channels == 3 and view.bits == 8 and view.pyramid.n_tiers == 3
    assert view.meta["width"] == 600
    with pytest.raises(ImageNotFound):
        ImageView.open(storage, "upload-missing/x.tif")


def test_passthrough_and_stats(storage: LocalStorage, rgb: Deployed) -> None:
    view = ImageView.open(storage, rgb.path)
    tier = view.pyramid.at_level(0)
    before = outputs.STATS.snapshot()
    out = outputs.normalized_tile(view, tier, 2, 1, ImageParams(), outputs.Options())
    assert out.passthrough and out.data == view.reader.jpeg_tile(0, 0, 2, 1)
    png = outputs.normalized_tile(view, tier, 2, 1, ImageParams(), outputs.Options(Format.PNG))
    assert not png.passthrough and decode(png.data).shape == (44, 88, 3)
    after = outputs.STATS.snapshot()
    assert after["tiles"] - before["tiles"] == 2
    assert after["passthroughs"] - before["passthroughs"] == 1


def test_identity(storage: LocalStorage, rgb: Deployed, u16: Deployed) -> None:
    view = ImageView.open(storage, rgb.path)
    sel = render.select(view, PlaneSelection())
    assert render.is_identity(view, sel, Manipulation(), 8)
    assert render.is_identity(
        view, sel, Manipulation(min_intensities=(0,), max_intensities=(255,)), 8
    )
    assert not render.is_identity(view, sel, Manipulation(gammas=(1.5,)), 8)
    assert not render.is_identity(
        view, render.select(view, PlaneSelection((0, 1))), Manipulation(), 8
    )
    assert not render.is_identity(view, sel, Manipulation(), 16)
    view16 = ImageView.open(storage, u16.path)
    sel16 = render.select(view16, PlaneSelection())
    assert not render.is_identity(view16, sel16, Manipulation(), 16)
    raw = Manipulation(min_intensities=(0,), max_intensities=(65535,))
    assert render.is_identity(view16, sel16, raw, 16)


def test_u16_bounds(storage: LocalStorage, u16: Deployed) -> None:
    view = ImageView.open(storage, u16.path)
    lo, hi = view.channel_range(0)
    assert (lo, hi) == (int(u16.pixels.min()), int(u16.pixels.max()))  # from the pyramid's stats
    sel = render.select(view, PlaneSelection())
    stack = view.reader.read_region(0, 0, Region(0, 0, 10, 10))
    plane = Manipulation(min_intensities=("STRETCH_PLANE",), max_intensities=("AUTO_PLANE",))  # type: ignore[arg-type]
    channel = render.channel_renders(view, sel, plane, stack)[0]
    assert (channel.lo, channel.hi) == (int(stack.min()), int(stack.max()))


def test_float_bounds_keep_fractions(storage: LocalStorage) -> None:
    """A float channel whose values lie within 0..1 keeps its range: rounded to whole numbers
    it would be [0, 0] and render black."""
    plane = np.linspace(0.0, 0.5, 40 * 30, dtype=np.float32).reshape(30, 40, 1)
    meta = ImageMetadata("TEST", 40, 30, 1, 1, 1, "float32", 32)
    floats = deploy(storage, ArraySource(meta, {(0, 0, 0): plane}), "floats.tif")
    view = ImageView.open(storage, floats.path)
    assert view.channel_range(0) == (0.0, 0.5)
    sel = render.select(view, PlaneSelection())
    stack = view.reader.read_region(0, 0, Region(0, 0, 40, 30))
    auto = render.channel_renders(view, sel, Manipulation(), stack)[0]
    assert (auto.lo, auto.hi) == (0.0, 0.5)
    by_plane = Manipulation(min_intensities=("AUTO_PLANE",), max_intensities=("AUTO_PLANE",))  # type: ignore[arg-type]
    assert render.channel_renders(view, sel, by_plane, stack)[0].hi == pytest.approx(0.5)


def test_selection_errors(storage: LocalStorage, multi: Deployed) -> None:
    view = ImageView.open(storage, multi.path)
    assert render.select(view, PlaneSelection()).z == 0  # median of 2 planes: the first
    for planes in (PlaneSelection((2,)), PlaneSelection(z_slice=2), PlaneSelection(timepoint=1)):
        with pytest.raises(BadParameter):
            render.select(view, planes)
    sel = render.select(view, PlaneSelection())
    with pytest.raises(BadParameter, match="gammas"):
        render.channel_renders(view, sel, Manipulation(gammas=(1, 2, 3)), None)


def test_multichannel_colours(storage: LocalStorage, multi: Deployed) -> None:
    view = ImageView.open(storage, multi.path)
    tier = view.pyramid.at_level(0)
    params = parse_image_params(Args.from_query([("colormaps", "blue,yellow")]))
    pixels = decode(
        outputs.normalized_tile(view, tier, 0, 0, params, outputs.Options(Format.PNG)).data
    )
    red, green, blue = (pixels[..., k].astype(int) for k in range(3))
    assert blue.max() > 0 and (red == green).all()  # yellow adds equal red and green


def test_thumb_resized_window(storage: LocalStorage, rgb: Deployed, u16: Deployed) -> None:
    view = ImageView.open(storage, rgb.path)
    opts = outputs.Options(Format.PNG, max_pixels=50_000)
    thumb = decode(outputs.thumb(view, Target(length=128), ImageParams(), opts).data)
    assert thumb.shape == (64, 128, 3)
    with pytest.raises(TooLarge):
        outputs.resized(view, Target(level=0), ImageParams(), opts)
    resize_opts = outputs.Options(Format.PNG, max_pixels=50_000, safety=Safety.SAFE_RESIZE)
    safe = outputs.resized(view, Target(level=0), ImageParams(), resize_opts)
    assert "X-Image-Size-Limit" in safe.headers
    win = outputs.window(view, WindowInput(Region(10, 20, 50, 40)), Target(), ImageParams(), opts)
    expected = rgb.pixels[20:60, 10:60]
    assert np.abs(decode(win.data).astype(int) - expected.astype(int)).mean() < 3
    view16 = ImageView.open(storage, u16.path)
    raw = ImageParams(
        manipulation=Manipulation(min_intensities=(0,), max_intensities=(65535,), bits=None)
    )
    resized = decode(
        outputs.resized(view16, Target(level=0), raw, outputs.Options(Format.PNG)).data
    )
    assert np.array_equal(resized, u16.pixels)
