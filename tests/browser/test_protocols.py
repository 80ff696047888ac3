"""The viewer's tile sources in headless Chromium: OpenSeadragon over DeepZoom (``.dzi``) and
over IIIF (``info.json``) shows the same pixels as over the PIMS tile routes, every tile of
those protocols is passed through, and the IIIF manifest link is offered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.test_viewer import Browser, wait_loaded

pytestmark = pytest.mark.browser


SETTLED_JS = (
    "cytotileViewer.world.getItemCount() === 1 && cytotileViewer.world.getItemAt(0)"
    ".getFullyLoaded()"
)


def viewer_pixels(browser: Browser, path: Path) -> np.ndarray:
    """The pixels OpenSeadragon drew at its home view (the same whatever the source: the page's
    layout may have changed the viewer's size since the image opened), once every tile is
    drawn: its drawing canvas, without the controls and the navigator that fade and redraw."""
    import base64
    import io

    from PIL import Image

    def capture() -> bytes:
        browser.evaluate("void cytotileViewer.viewport.goHome(true)")
        browser.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))",
            await_promise=True,
        )
        browser.wait_for(SETTLED_JS, "the home view's tiles")
        url = browser.evaluate("cytotileViewer.drawer.canvas.toDataURL('image/png')")
        return base64.b64decode(url.split(",", 1)[1])

    # A side panel filling in late can resize the viewer between the home view and the
    # capture (on a loaded machine): the view is taken once two captures in a row agree.
    png, previous = capture(), b""
    for _ in range(8):
        if png == previous:
            break
        browser.evaluate("new Promise(r => setTimeout(r, 250))", await_promise=True)
        png, previous = capture(), png
    path.write_bytes(png)
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def switch(browser: Browser, source: str) -> dict[str, Any]:
    browser.evaluate(
        "(() => { const s = document.querySelector('#source-select');"
        f" s.value = {json.dumps(source)}; s.dispatchEvent(new Event('change')); }})()"
    )
    browser.wait_for(f"cytotile.source === {json.dumps(source)}", f"the {source} source")
    return wait_loaded(browser)


def responses(browser: Browser, marker: str) -> list[dict[str, Any]]:
    return [
        e["response"]
        for e in browser.events_named("Network.responseReceived")
        if marker in e["response"]["url"]
    ]


def test_dzi_and_iiif_sources_show_the_pims_pixels(
    server: dict[str, Any], site: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    upload = site["uploads"]["tissue"]
    browser.navigate(f"{server['url']}?source=pims#{upload.id}")
    browser.wait_for(f"cytotile.current === {json.dumps(upload.id)}", "the tissue slide")
    state = wait_loaded(browser)
    assert state["tilesFailed"] == 0
    reference = viewer_pixels(browser, tmp_path / "pims.png")
    assert reference.std() > 10  # an image, not the empty stage

    manifest = browser.evaluate("document.querySelector('#manifest-url').value")
    assert manifest.endswith(f"/iiif/3/{upload.id}%2F{upload.original_name}/manifest")
    assert browser.evaluate("document.querySelector('#manifest-tools').hidden") is False
    browser.evaluate("document.querySelector('#manifest-copy').click()")
    copied = browser.wait_for(
        "document.querySelector('#manifest-message').textContent", "the copy to be confirmed"
    )
    assert copied in ("Copied", "Select and copy"), copied
    fetched = browser.evaluate(
        f"fetch({json.dumps(manifest)}).then(r => r.json()).then(m => m.type)", await_promise=True
    )
    assert fetched == "Manifest"
    mirador = browser.evaluate("document.querySelector('#mirador-link').href")
    assert "static/mirador.html?manifest=" in mirador

    for source, marker in (("dzi", "/dzi/"), ("iiif", "/iiif/3/")):
        state = switch(browser, source)
        assert state["tilesFailed"] == 0 and state["tilesLoaded"] >= 1, (source, state)
        shown = viewer_pixels(browser, tmp_path / f"{source}.png")
        diff = np.abs(shown - reference).mean()
        assert shown.shape == reference.shape and diff < 1.0, (source, diff)
        tiles = [r for r in responses(browser, marker) if r["mimeType"] == "image/jpeg"]
        assert tiles, source
        assert {r["status"] for r in tiles} == {200}, source
        passthrough = [
            {k.lower(): v for k, v in r["headers"].items()}.get("x-cytotile-passthrough")
            for r in tiles
        ]
        assert set(passthrough) == {"1"}, (source, passthrough)
    assert not browser.js_problems(), browser.js_problems()


CANVAS_RECT_JS = """(() => {
  const canvas = document.querySelector('#mirador .openseadragon-canvas canvas');
  if (!canvas) return null;
  const r = canvas.getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom].map(Math.round);
})()"""


def test_mirador_opens_the_manifest(
    server: dict[str, Any], site: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    from urllib.parse import quote

    from tests.browser.test_viewer import not_blank

    upload = site["uploads"]["tissue"]
    identifier = quote(f"{upload.id}/{upload.original_name}", safe="")
    manifest = f"{server['url']}iiif/3/{identifier}/manifest"
    browser.navigate(f"{server['url']}static/mirador.html?manifest={quote(manifest, safe='')}")
    browser.wait_for("typeof window.cytotileMirador === 'object'", "Mirador to start")
    box = browser.wait_for(CANVAS_RECT_JS, "Mirador's image canvas")
    # Tiles of the image service, all answered; then the canvas shows the slide.
    browser.wait_for(
        "performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/default.jpg')).length >= 2",
        "Mirador's IIIF tile requests",
    )
    tiles = [r for r in responses(browser, f"/iiif/3/{identifier}/") if r["url"].endswith(".jpg")]
    assert tiles and {r["status"] for r in tiles} == {200}, tiles
    info = responses(browser, f"/iiif/3/{identifier}/info.json")
    assert info and info[0]["status"] == 200
    deadline_shots = 50
    for attempt in range(deadline_shots):  # the tiles fade in
        png = browser.screenshot(tmp_path / f"mirador-{attempt}.png")
        stddev, colours = not_blank(png, tuple(box))
        if stddev > 10 and colours > 500:
            break
    assert stddev > 10 and colours > 500, (stddev, colours, png)
    title = browser.wait_for(
        "[...document.querySelectorAll('#mirador h2, #mirador [role=heading]')]"
        ".map(e => e.textContent).join('|')",
        "the window title",
    )
    assert upload.original_name in title, title
