"""End to end: the viewer page in a real headless Chromium, over the real app and real imports.

The browser is driven through the Chrome DevTools Protocol over ``--remote-debugging-pipe``
(NUL-separated JSON on file descriptors 3 and 4): no WebDriver, no websocket client, no extra
dependency. The app runs under uvicorn in a subprocess on a free 127.0.0.1 port; tile requests are
checked twice: as the browser saw them (CDP network events) and in the server's access log.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_S = 30.0
VIEWPORT = (1280, 800)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
    "--remote-debugging-pipe",
]
TILE_LOG = re.compile(r'"GET (\S*/normalized-tile/\S*) HTTP/[\d.]+" (\d{3})')

# Runs in the server subprocess: bind a free port, say which, serve the real app over ROOT.
SERVER_SCRIPT = """
import socket, sys
import uvicorn
from cytotile.api.app import create_app
from cytotile.settings import ServerSettings
from cytotile.storage import LocalStorage

root = sys.argv[1]
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
app = create_app(ServerSettings(root=root), LocalStorage(root))
print("CYTOTILE_TEST_PORT", sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, log_level="info", access_log=True, timeout_graceful_shutdown=2)
uvicorn.Server(config).run(sockets=[sock])
"""

# Runs in the browser's launcher process: put the CDP pipes on fds 3 and 4, become Chromium.
PIPE_EXEC = (
    "import os, sys\n"
    "r, w = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def _kill_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """Stop a process we started in its own session, then anything it spawned."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace_s)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(5)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


# ------------------------------------------------------------------------------ the browser


class CDPError(RuntimeError):
    pass


class Browser:
    """Headless Chromium and a minimal CDP client (one page, flattened session)."""

    def __init__(self, profile: Path, log_path: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Above fd 9, so that moving them to 3 and 4 in the child cannot clobber either one.
        child_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        argv = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", PIPE_EXEC, str(child_r), str(child_w), *argv],
                pass_fds=(child_r, child_w),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                start_new_session=True,
            )
        finally:
            os.close(child_r)
            os.close(child_w)
        self._next_id = 0
        self._results: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()
        self.session: str | None = None

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._results[message["id"]] = message
                    else:
                        self.events.append(message)
                self._cond.notify_all()

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        browser: bool = False,
        timeout: float = TIMEOUT_S,
    ) -> dict[str, Any]:
        with self._cond:
            self._next_id += 1
            call_id = self._next_id
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while call_id not in self._results:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    why = "the browser is gone" if self._closed else "timeout"
                    raise CDPError(f"{method}: no answer ({why})")
                self._cond.wait(left)
            answer = self._results.pop(call_id)
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error'].get('message')}")
        return dict(answer.get("result", {}))

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        width, height = VIEWPORT
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def navigate(self, url: str) -> None:
        answer = self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise CDPError(f"cannot load {url}: {answer['errorText']}")

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        answer = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise CDPError(details.get("exception", {}).get("description") or details.get("text"))
        return answer["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = TIMEOUT_S) -> Any:
        """Poll a JS expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except CDPError as exc:  # e.g. the page is still navigating
                last = f"<{exc}>"
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")

    def screenshot(self, path: Path) -> Path:
        import base64

        self.evaluate(  # two frames: whatever just loaded is painted
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))",
            await_promise=True,
        )
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def events_named(self, method: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e["params"] for e in self.events if e.get("method") == method]

    def js_problems(self) -> list[str]:
        problems = [
            e["exceptionDetails"].get("exception", {}).get("description")
            or e["exceptionDetails"].get("text", "")
            for e in self.events_named("Runtime.exceptionThrown")
        ]
        problems += [
            " ".join(str(a.get("value", a.get("description", ""))) for a in e.get("args", []))
            for e in self.events_named("Runtime.consoleAPICalled")
            if e.get("type") == "error"
        ]
        return problems

    def close(self) -> None:
        try:
            if not self._closed:
                self.send("Browser.close", browser=True, timeout=5)
        except (CDPError, OSError):
            pass
        finally:
            _kill_group(self.proc, grace_s=5)
            os.close(self._to_chrome)
            self._reader.join(5)
            os.close(self._from_chrome)
            self._log.close()


# ------------------------------------------------------------------------------ fixtures


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"Chromium is not installed at {CHROMIUM} "
            "(`make test` installs it; or: apt-get install chromium)"
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A root with two deployed synthetic slides and one failed upload, through the real import."""
    require_chromium()
    from cytotile.importer.flow import import_file
    from cytotile.storage import LocalStorage
    from cytotile.synthetic import write_tissue_slide

    base = tmp_path_factory.mktemp("viewer-site")
    root = base / "root"
    storage = LocalStorage(root)
    uploads = {}
    for key, name, (width, height), seed in [
        ("tissue", "tissue-slide.tif", (1800, 1200), 3),
        ("small", "small-slide.tif", (700, 520), 7),
    ]:
        source = write_tissue_slide(base / "sources" / name, width, height, seed=seed)
        manifest = import_file(storage, source, name=name)
        assert manifest.status.value == "DEPLOYED", manifest.reason
        uploads[key] = manifest
    junk = base / "sources" / "notes.txt"
    junk.write_text("not an image\n")
    failed = import_file(storage, junk, name="notes.txt")
    assert failed.status.is_error
    uploads["failed"] = failed
    return {"root": root, "base": base, "uploads": uploads}


@contextlib.contextmanager
def serving(root: Path, log_path: Path) -> Iterator[str]:
    """The real app over ``root`` in a uvicorn subprocess; yields its base URL."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT, str(root)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        yield _wait_until_serving(proc, log_path)
    finally:
        proc.terminate()
        _kill_group(proc, grace_s=10)


@pytest.fixture(scope="module")
def server(site: dict[str, Any]) -> Iterator[dict[str, Any]]:
    log_path = site["base"] / "server.log"
    with serving(site["root"], log_path) as url:
        yield {"url": url, "log": log_path}


def _wait_until_serving(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + TIMEOUT_S
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        if url is None:
            found = re.search(r"CYTOTILE_TEST_PORT (\d+)", log_path.read_text())
            if found:
                url = f"http://127.0.0.1:{found.group(1)}/"
        if url is not None:
            try:
                with urllib.request.urlopen(url + "uploads", timeout=5) as response:
                    if response.status == 200:
                        return url
            except OSError:
                pass
        time.sleep(0.1)
    log = log_path.read_text()[-3000:]
    pytest.fail(f"the server did not answer within {TIMEOUT_S:.0f} s:\n{log}")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    require_chromium()
    chromium = Browser(tmp_path / "profile", tmp_path / "chromium.log")
    try:
        chromium.open_page()
        yield chromium
    finally:
        chromium.close()


# ------------------------------------------------------------------------------ helpers

STATE_JS = (
    "window.cytotile && ['loaded', 'error'].includes(window.cytotile.state) && "
    "JSON.stringify({state: cytotile.state, error: cytotile.error, current: cytotile.current, "
    "tilesLoaded: cytotile.tilesLoaded, tilesFailed: cytotile.tilesFailed, "
    "osd: typeof window.cytotileViewer === 'object'})"
)
LIST_JS = """JSON.stringify([...document.querySelectorAll('#uploads .upload')].map(li => ({
  id: li.dataset.id, status: li.dataset.status,
  badge: li.querySelector('.badge').textContent,
  name: li.querySelector('.upload__name').textContent,
  reason: li.querySelector('.upload__reason')?.textContent ?? null,
  facts: li.querySelector('.upload__facts').textContent,
  clickable: li.querySelector('.upload__body').tagName === 'BUTTON',
  thumbLoaded: !!li.querySelector('.upload__thumb img')?.naturalWidth,
})))"""


def wait_loaded(browser: Browser) -> dict[str, Any]:
    state = json.loads(browser.wait_for(STATE_JS, "the viewer to load the image"))
    assert state["state"] == "loaded", state
    return dict(state)


def tile_responses(browser: Browser) -> tuple[dict[str, int], list[str]]:
    """Tile URLs the page requested with their HTTP status, and the ones that failed outright."""
    urls = {
        e["requestId"]: e["request"]["url"]
        for e in browser.events_named("Network.requestWillBeSent")
        if "/normalized-tile/" in e["request"]["url"]
    }
    statuses = {
        e["response"]["url"]: e["response"]["status"]
        for e in browser.events_named("Network.responseReceived")
        if e["requestId"] in urls
    }
    failed = [
        f"{urls[e['requestId']]}: {e.get('errorText')}"
        for e in browser.events_named("Network.loadingFailed")
        if e["requestId"] in urls and not e.get("canceled")
    ]
    return statuses, failed


def not_blank(png: Path, box: tuple[int, int, int, int]) -> tuple[float, int]:
    """Standard deviation (mean over bands) and number of distinct colours of a screenshot box."""
    from PIL import Image, ImageStat

    with Image.open(png) as image:
        region = image.convert("RGB").crop(box)
        stddev = sum(ImageStat.Stat(region).stddev) / 3
        colours = len(region.getcolors(maxcolors=1 << 20) or [])
    return stddev, colours


# ------------------------------------------------------------------------------ tests


def test_viewer_lists_uploads_and_shows_the_image(
    server: dict[str, Any], site: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    uploads = site["uploads"]
    browser.navigate(server["url"])
    state = wait_loaded(browser)
    assert state["osd"], "window.cytotileViewer is not exposed"

    # The list: every upload, with its status; the failed one says why and is not clickable.
    items = {item["id"]: item for item in json.loads(browser.evaluate(LIST_JS))}
    assert set(items) == {m.id for m in uploads.values()}
    for key in ("tissue", "small"):
        item = items[uploads[key].id]
        assert (item["status"], item["badge"], item["clickable"]) == ("DEPLOYED", "DEPLOYED", True)
        assert item["name"] == uploads[key].original_name
        image = uploads[key].image
        assert f"{image['width']}{image['height']}" in re.sub(r"\D", "", item["facts"])
    failed = items[uploads["failed"].id]
    assert failed["status"].startswith("ERROR_") and not failed["clickable"]
    assert failed["reason"] == uploads["failed"].reason

    # The first deployed image of the list (newest first) opened by default.
    first_deployed = browser.evaluate(
        "document.querySelector('#uploads .upload[data-status=DEPLOYED]').dataset.id"
    )
    assert state["current"] == first_deployed
    opened = next(m for m in uploads.values() if m.id == first_deployed)
    assert browser.evaluate("document.querySelector('#image-title').textContent") == (
        opened.original_name
    )
    assert (
        browser.evaluate(
            "document.querySelector('#uploads .upload--current .upload__body')"
            ".getAttribute('aria-current')"
        )
        == "true"
    )

    # Tiles: requested, all 200, also in the server's access log; none failed in OSD.
    assert state["tilesLoaded"] >= 1 and state["tilesFailed"] == 0, state
    seen, failed_requests = tile_responses(browser)
    assert seen and not failed_requests, (seen, failed_requests)
    assert set(seen.values()) == {200}, seen
    assert all(f"/image/{first_deployed}/" in url for url in seen)
    logged = TILE_LOG.findall(server["log"].read_text())
    assert logged and {status for _, status in logged} == {"200"}, logged[-10:]

    browser.wait_for(
        "[...document.querySelectorAll('.upload__thumb img')].every(i => i.complete)"
        " && document.querySelectorAll('.upload__thumb img').length === 2",
        "the thumbnails",
    )
    thumbs = [item["id"] for item in json.loads(browser.evaluate(LIST_JS)) if item["thumbLoaded"]]
    assert sorted(thumbs) == sorted([uploads["tissue"].id, uploads["small"].id])

    # The screenshot: the viewer area shows an image, not a flat background.
    png = browser.screenshot(tmp_path / "viewer.png")
    rect = browser.evaluate(
        "(() => { const r = document.querySelector('#viewer').getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom].map(Math.round); })()"
    )
    stddev, colours = not_blank(png, tuple(rect))
    assert stddev > 10 and colours > 500, (stddev, colours, png)
    assert not browser.js_problems(), browser.js_problems()


def test_deep_link_opens_the_named_image(
    server: dict[str, Any], site: dict[str, Any], browser: Browser
) -> None:
    deployed = sorted(
        (m for k, m in site["uploads"].items() if k != "failed"),
        key=lambda m: m.created_at,
        reverse=True,
    )
    default, other = deployed  # the list is newest first: `default` opens without a link

    def shows(upload: Any) -> None:
        browser.wait_for(
            f"window.cytotile && cytotile.current === {json.dumps(upload.id)}",
            f"{upload.id} to be the open image",
        )
        state = wait_loaded(browser)
        assert state["current"] == upload.id
        title = browser.evaluate("document.querySelector('#image-title').textContent")
        assert title == upload.original_name
        seen, failed = tile_responses(browser)
        assert any(f"/image/{upload.id}/" in url for url in seen) and not failed, seen

    # A fresh load of a link to the image that is not the default.
    browser.navigate(f"{server['url']}#{other.id}")
    shows(other)
    # Following a link inside the page (hashchange) switches images.
    browser.evaluate(f"location.hash = {json.dumps(default.id)}")
    shows(default)
    assert not browser.js_problems(), browser.js_problems()


def test_upload_form_imports_and_opens_the_image(browser: Browser, tmp_path: Path) -> None:
    from cytotile.synthetic import write_tissue_slide

    source = write_tissue_slide(tmp_path / "sources" / "fresh-slide.tif", 900, 640, seed=11)
    with serving(tmp_path / "root", tmp_path / "server.log") as url:
        browser.navigate(url)
        browser.wait_for(
            "document.querySelector('#uploads-message').textContent.includes('No images yet')",
            "the empty list",
        )
        assert browser.evaluate("cytotile.state") == "idle"

        document = browser.send("DOM.getDocument")
        node = browser.send(
            "DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": "#upload-input"}
        )
        browser.send("DOM.setFileInputFiles", {"nodeId": node["nodeId"], "files": [str(source)]})
        browser.evaluate("document.querySelector('#upload-button').click()")

        message = browser.wait_for(
            "document.querySelector('#upload-message').dataset.kind === 'ok'"
            " && document.querySelector('#upload-message').textContent",
            "the upload to finish",
        )
        assert message == "fresh-slide.tif: DEPLOYED"
        state = wait_loaded(browser)
        assert browser.evaluate("location.hash") == f"#{state['current']}"
        items = json.loads(browser.evaluate(LIST_JS))
        assert [(i["id"], i["name"], i["status"]) for i in items] == [
            (state["current"], "fresh-slide.tif", "DEPLOYED")
        ]
        seen, failed = tile_responses(browser)
        assert seen and set(seen.values()) == {200} and not failed, (seen, failed)
        assert not browser.js_problems(), browser.js_problems()
