"""The viewer's channel and plane controls in headless Chromium, on an imported 2-channel 16-bit
OME-TIFF with 3 focal planes: switching a channel off, moving the Z slider and changing a
channel's maximum change the pixels (through the tile URLs); scale bar and metadata shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from tests.browser.test_protocols import viewer_pixels
from tests.browser.test_viewer import Browser, require_chromium, serving, wait_loaded

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def planes_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_chromium()
    from cytotile.importer.flow import import_file
    from cytotile.storage import LocalStorage

    base = tmp_path_factory.mktemp("planes-site")
    y, x = np.mgrid[0:300, 0:400]
    data = np.zeros((3, 2, 300, 400), np.uint16)  # Z, C, Y, X
    for z in range(3):
        data[z, 0] = ((x // 50 + y // 50 + z) % 2) * 40000 + 1000  # checkerboard, moves with z
        data[z, 1] = (y * 100 + z * 5000).astype(np.uint16)  # vertical ramp
    path = base / "fluo.ome.tif"
    meta = {
        "axes": "ZCYX",
        "PhysicalSizeX": 0.5,
        "PhysicalSizeY": 0.5,
        "Channel": {"Name": ["DAPI", "FITC"], "Color": [-16776961, 16711935]},  # red, green
    }
    tifffile.imwrite(path, data, ome=True, metadata=meta, photometric="minisblack")
    storage = LocalStorage(base / "root")
    manifest = import_file(storage, path, name="fluo.ome.tif")
    assert manifest.status.value == "DEPLOYED", manifest.reason
    with serving(base / "root", base / "server.log") as url:
        yield {"url": url, "upload": manifest}


def change(browser: Browser, selector: str, js_value: str) -> dict[str, Any]:
    """Set an input of the panel, fire its change event, wait for the reopened tiles."""
    browser.evaluate(
        f"(() => {{ const i = document.querySelector({json.dumps(selector)}); {js_value};"
        " i.dispatchEvent(new Event('change')); })()"
    )
    browser.wait_for("cytotile.state === 'loading' || cytotile.tilesLoaded === 0", "a reopen", 5)
    return wait_loaded(browser)


def test_channels_and_planes_change_the_pixels(
    planes_site: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    upload = planes_site["upload"]
    browser.navigate(f"{planes_site['url']}?source=pims#{upload.id}")
    browser.wait_for("document.body.dataset.planes === 'ready'", "the plane panel")
    wait_loaded(browser)
    both = viewer_pixels(browser, tmp_path / "both.png")
    assert both[..., 0].max() > 200 and both[..., 1].max() > 200  # red and green composited

    panel = browser.evaluate("document.querySelector('#planes-panel').innerText")
    assert "DAPI" in panel and "FITC" in panel and "C=2 Z=3 T=1" in panel
    bar = browser.evaluate("document.querySelector('#scale-bar').textContent")
    assert "µm" in bar or "mm" in bar

    change(browser, "[data-channel='1'] input[type=checkbox]", "i.checked = false")
    red_only = viewer_pixels(browser, tmp_path / "red.png")
    assert red_only[..., 1].mean() < both[..., 1].mean() / 4  # green gone
    assert abs(red_only[..., 0].mean() - both[..., 0].mean()) < 8  # red kept

    change(browser, "#planes-Z", "i.value = '0'")
    other_z = viewer_pixels(browser, tmp_path / "z0.png")
    assert np.abs(other_z - red_only).mean() > 20  # the checkerboard moved

    change(browser, "[data-channel='0'] [data-bound=max]", "i.value = '200000'")
    dimmer = viewer_pixels(browser, tmp_path / "dim.png")
    assert dimmer[..., 0].mean() < other_z[..., 0].mean() * 0.6  # a higher maximum: darker
    urls = [
        e["request"]["url"]
        for e in browser.events_named("Network.requestWillBeSent")
        if "/normalized-tile/" in e["request"]["url"]
    ]
    assert any("channels=0&z_slices=0" in u for u in urls)
