"""A thumbnail is read from a tier at least twice its size (outputs.THUMB_GAP, docs/quality.md),
so that it matches the image reduced from full resolution."""

from __future__ import annotations

import io

import numpy as np
import pytest
import pyvips
from PIL import Image

from cytotile.pipeline import outputs
from cytotile.pipeline.encode import Format
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import ImageParams
from cytotile.pipeline.regions import Target
from cytotile.storage.local import LocalStorage
from tests.helpers.deployed import Deployed, deploy, rgb_source
from tests.helpers.pixels import mad


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> LocalStorage:
    return LocalStorage(tmp_path_factory.mktemp("thumb-tier"))


@pytest.fixture(scope="module")
def rgb(storage: LocalStorage) -> Deployed:
    return deploy(storage, rgb_source(1001, 777), "rgb.tif")  # tiers 1001, 501, 251 wide


@pytest.mark.parametrize(
    ("length", "level"), [(64, 2), (100, 2), (128, 1), (250, 1), (260, 0), (600, 0)]
)
def test_the_thumbnail_tier_is_at_least_twice_its_size(
    storage: LocalStorage, rgb: Deployed, length: int, level: int
) -> None:
    view = ImageView.open(storage, rgb.path)
    opts = outputs.Options(Format.PNG)
    plan = outputs.plan_thumb(view, Target(length=length), ImageParams(), opts)
    assert plan.tier.level == level
    assert plan.tier.width >= min(2 * plan.width, view.pyramid.base.width)
    # resized answers keep the smallest tier that holds them (a tier's own size reads it as is)
    resized = outputs.plan_resized(view, Target(length=251), ImageParams(), opts)
    assert resized.tier.level == 2


def test_the_thumbnail_matches_the_image_reduced_from_full_resolution(
    storage: LocalStorage, rgb: Deployed
) -> None:
    view = ImageView.open(storage, rgb.path)
    out = outputs.thumb(view, Target(length=128), ImageParams(), outputs.Options(Format.PNG))
    served = np.asarray(Image.open(io.BytesIO(out.data)).convert("RGB"))
    h, w = served.shape[:2]
    full = pyvips.Image.new_from_array(rgb.pixels)
    theirs = full.resize(w / full.width, vscale=h / full.height).numpy()
    assert mad(served, theirs) < 1.5
