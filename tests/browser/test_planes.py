"""The viewer's channel and plane controls in headless Chromium.

On an imported 2-channel 16-bit OME-TIFF with 3 focal planes and 2 timepoints: one toggle per
channel in the file's colours, Z and T sliders; switching a channel off, moving the Z slider,
changing a maximum and picking another colour each change the pixels on screen (through the tile
URLs' plane parameters); the image details, the raw metadata and a scale bar of a round length.
On an 8-bit RGB slide: no channel controls and passthrough tiles without plane parameters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from tests.browser.test_protocols import responses, switch, viewer_pixels
from tests.browser.test_viewer import Browser, require_chromium, serving, wait_loaded

pytestmark = pytest.mark.browser

#: OME colours are signed RGBA integers: red and green, opaque
OME_RED, OME_GREEN = -16776961, 16711935


@pytest.fixture(scope="module")
def planes_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_chromium()
    from cytotile.importer.flow import import_file
    from cytotile.storage import LocalStorage
    from cytotile.synthetic import write_tissue_slide

    base = tmp_path_factory.mktemp("planes-site")
    y, x = np.mgrid[0:300, 0:400]
    data = np.zeros((2, 3, 2, 300, 400), np.uint16)  # T, Z, C, Y, X
    for t in range(2):
        for z in range(3):
            data[t, z, 0] = ((x // 50 + y // 50 + z) % 2) * 30000 + 1000 + t * 10000
            data[t, z, 1] = y * 100 + z * 5000 + t * 2000  # vertical ramp
    path = base / "fluo.ome.tif"
    meta = {
        "axes": "TZCYX",
        "PhysicalSizeX": 0.5,
        "PhysicalSizeY": 0.5,
        "Channel": {"Name": ["DAPI", "FITC"], "Color": [OME_RED, OME_GREEN]},
    }
    tifffile.imwrite(path, data, ome=True, metadata=meta, photometric="minisblack")
    storage = LocalStorage(base / "root")
    fluo = import_file(storage, path, name="fluo.ome.tif")
    assert fluo.status.value == "DEPLOYED", fluo.reason
    slide_path = write_tissue_slide(base / "slide.tif", 600, 400, seed=5)
    slide = import_file(storage, slide_path, name="slide.tif")
    assert slide.status.value == "DEPLOYED", slide.reason
    with serving(base / "root", base / "server.log") as url:
        yield {"url": url, "fluo": fluo, "slide": slide}


#: a reopen seen: the viewer went through "loading" since watch_reopen (a fast reopen may be over
#: between two polls of its state)
REOPENED_JS = "window.__reopened || cytotile.state === 'loading' || cytotile.tilesLoaded === 0"


def watch_reopen(browser: Browser) -> None:
    """Record, from now on, whether the viewer's state passes through "loading"."""
    browser.evaluate(
        "(() => { window.__reopened = false; const seen = (r) =>"
        " r.oldValue === 'loading' || document.body.dataset.viewerState === 'loading';"
        " if (window.__reopenWatch) window.__reopenWatch.disconnect();"
        " window.__reopenWatch = new MutationObserver((records) => {"
        " if (records.some(seen)) window.__reopened = true; });"
        " window.__reopenWatch.observe(document.body, {attributes: true,"
        " attributeFilter: ['data-viewer-state'], attributeOldValue: true}); })()"
    )


def change(browser: Browser, selector: str, js_value: str) -> dict[str, Any]:
    """Set an input of the panel, fire its change event, wait for the reopened tiles."""
    watch_reopen(browser)
    browser.evaluate(
        f"(() => {{ const i = document.querySelector({json.dumps(selector)}); {js_value};"
        " i.dispatchEvent(new Event('change')); })()"
    )
    browser.wait_for(REOPENED_JS, "a reopen", 5)
    return wait_loaded(browser)


def tile_urls(browser: Browser) -> list[str]:
    return [
        e["request"]["url"]
        for e in browser.events_named("Network.requestWillBeSent")
        if "/normalized-tile/" in e["request"]["url"]
    ]


def centre(pixels: np.ndarray) -> np.ndarray:
    """The middle of the viewer: image only (no navigator, controls or scale bar)."""
    h, w = pixels.shape[:2]
    return pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]


def open_image(browser: Browser, url: str, upload: Any) -> None:
    browser.navigate(f"{url}?source=pims#{upload.id}")
    browser.wait_for(f"cytotile.current === {json.dumps(upload.id)}", upload.original_name)
    wait_loaded(browser)


CHANNELS_JS = """JSON.stringify([...document.querySelectorAll('#planes-panel [data-channel]')]
  .map(row => ({name: row.querySelector('.planes__name').textContent,
                color: row.querySelector('input[type=color]').value,
                on: row.querySelector('input[type=checkbox]').checked,
                min: Number(row.querySelector('[data-bound=min]').value),
                max: Number(row.querySelector('[data-bound=max]').value)})))"""
SCALE_JS = """(() => { const item = cytotileViewer.world.getItemAt(0);
  const bar = document.querySelector('#scale-bar');
  return {text: bar.textContent, um: Number(bar.dataset.micrometres), hidden: bar.hidden,
          px: bar.getBoundingClientRect().width,
          zoom: item.viewportToImageZoom(cytotileViewer.viewport.getZoom(true))}; })()"""


def test_channels_and_planes_change_the_pixels(
    planes_site: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    open_image(browser, planes_site["url"], planes_site["fluo"])
    assert browser.evaluate("document.body.dataset.planes") == "ready"
    channels = json.loads(browser.evaluate(CHANNELS_JS))
    assert [(c["name"], c["color"], c["on"]) for c in channels] == [
        ("DAPI", "#ff0000", True),
        ("FITC", "#00ff00", True),
    ]
    assert (channels[0]["min"], channels[0]["max"]) == (1000, 41000)  # the histogram bounds
    assert browser.evaluate("document.querySelector('#planes-Z').max") == "2"
    assert browser.evaluate("document.querySelector('#planes-T').max") == "1"
    first = tile_urls(browser)
    assert first and all("channels=0%2C1&z_slices=1&timepoints=0" in u for u in first), first
    both = viewer_pixels(browser, tmp_path / "both.png")
    assert both[..., 0].max() > 200 and both[..., 1].max() > 200  # red and green composited
    assert centre(both)[..., 2].max() < 60  # no blue channel

    refused = browser.evaluate(  # a maximum below the minimum is refused, nothing reloaded
        "(() => { const i = document.querySelector(\"[data-channel='0'] [data-bound=max]\");"
        " i.value = '10'; i.dispatchEvent(new Event('change'));"
        " return [i.value, cytotile.state]; })()"
    )
    assert refused == ["41000", "loaded"], refused

    change(browser, "[data-channel='1'] input[type=checkbox]", "i.checked = false")
    red_only = viewer_pixels(browser, tmp_path / "red.png")
    assert red_only[..., 1].mean() < both[..., 1].mean() / 4  # green gone
    assert abs(red_only[..., 0].mean() - both[..., 0].mean()) < 8  # red kept

    change(browser, "#planes-Z", "i.value = '0'")
    other_z = viewer_pixels(browser, tmp_path / "z0.png")
    assert np.abs(other_z - red_only).mean() > 20  # the checkerboard moved
    assert "Z 1/3" in browser.evaluate("document.querySelector('#planes-panel').innerText")

    change(browser, "[data-channel='0'] [data-bound=max]", "i.value = '200000'")
    dimmer = viewer_pixels(browser, tmp_path / "dim.png")
    assert dimmer[..., 0].mean() < other_z[..., 0].mean() * 0.6  # a higher maximum: darker

    change(browser, "[data-channel='0'] input[type=color]", "i.value = '#0000ff'")
    blue = viewer_pixels(browser, tmp_path / "blue.png")
    # red became blue, at the same (dimmed) intensities
    assert centre(blue)[..., 0].max() < 20 < 0.8 * dimmer[..., 0].max() < blue[..., 2].max()
    assert np.abs(blue[..., 2] - dimmer[..., 0]).mean() < 8  # the same intensities
    last = tile_urls(browser)[-1]
    assert "channels=0&z_slices=0" in last and "max_intensities=200000" in last, last
    assert "colormaps=%230000ff" in last, last

    change(browser, "[data-channel='0'] [data-gamma]", "i.value = '0.5'")
    brighter = viewer_pixels(browser, tmp_path / "gamma.png")
    assert centre(brighter)[..., 2].mean() > centre(blue)[..., 2].mean() * 1.4  # gamma 0.5

    change(browser, "#planes-T", "i.value = '1'")
    later = viewer_pixels(browser, tmp_path / "t1.png")
    assert centre(later)[..., 2].mean() > centre(brighter)[..., 2].mean() + 10  # +10000 at t=1
    last = tile_urls(browser)[-1]
    assert "timepoints=1" in last and "gammas=0.5" in last, last
    assert browser.evaluate("cytotileViewer.world.getItemCount()") == 1  # the old view removed

    watch_reopen(browser)
    browser.evaluate("document.querySelector('#planes-panel button').click()")  # Reset
    browser.wait_for(REOPENED_JS, "a reopen", 5)
    wait_loaded(browser)
    again = viewer_pixels(browser, tmp_path / "reset.png")
    assert np.abs(again - both).mean() < 2, np.abs(again - both).mean()
    assert json.loads(browser.evaluate(CHANNELS_JS)) == channels

    switch(browser, "iiif")  # no plane parameters there: the panel stays, inactive, with a note
    assert browser.evaluate("document.body.dataset.planes") == "none"
    assert browser.evaluate("document.querySelector('#planes-panel').inert") is True
    note = browser.evaluate("document.querySelector('.planes__note').innerText")
    assert "PIMS tiles" in note, note

    facts = browser.evaluate("document.querySelector('#details-facts').innerText")
    assert "DAPI" in facts and "C 2 · Z 3 · T 2" in facts and "uint16" in facts, facts
    browser.evaluate("document.querySelector('#details-raw').open = true")
    raw = browser.wait_for(
        "document.querySelectorAll('#details-raw-rows tr').length > 2 &&"
        " document.querySelector('#details-raw-rows').innerText",
        "the raw metadata",
    )
    assert "OME" in raw and "DimensionOrder" in raw, raw

    scale = browser.evaluate(SCALE_JS)
    assert not scale["hidden"] and scale["text"].endswith(("µm", "mm", "nm")), scale
    mantissa = scale["um"] / 10 ** math.floor(math.log10(scale["um"]))
    assert round(mantissa, 6) in (1, 2, 5), scale  # a round length
    um_per_screen_px = 0.5 / scale["zoom"]
    assert scale["px"] * um_per_screen_px == pytest.approx(scale["um"], rel=0.03), scale
    assert not browser.js_problems(), browser.js_problems()


def test_rgb_slide_keeps_plain_view_and_passthrough(
    planes_site: dict[str, Any], browser: Browser
) -> None:
    open_image(browser, planes_site["url"], planes_site["slide"])
    assert browser.evaluate("document.body.dataset.planes") == "none"
    assert browser.evaluate("document.querySelector('#planes-panel').hidden") is True
    assert browser.evaluate("document.querySelectorAll('[data-channel]').length") == 0
    assert browser.evaluate("document.querySelector('#details-panel').hidden") is False
    urls = tile_urls(browser)
    assert urls and not any("?" in u for u in urls), urls
    tiles = responses(browser, "/normalized-tile/")
    passthrough = {
        {k.lower(): v for k, v in r["headers"].items()}["x-cytotile-passthrough"] for r in tiles
    }
    assert tiles and passthrough == {"1"}, passthrough
    assert not browser.js_problems(), browser.js_problems()
