"""The core callback (issue 9, point 3): an import listener configured by URL that sends the
upload's status changes to a Cytomine core, signed; tested against a fake core on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cytotile.importer.core_callback import CoreCallback
from cytotile.importer.events import ImportEvent
from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.synth import tissue

PUBLIC, PRIVATE = "pims-public", "pims-private"


class FakeCore(BaseHTTPRequestHandler):
    """Records each PUT and whether its Cytomine signature is right (as a core checks it)."""

    received: list[dict[str, Any]]
    answer = 200

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        md5, kind = self.headers.get("Content-MD5", ""), self.headers.get("Content-Type", "")
        text = "\n".join(["PUT", md5, kind, self.headers["Date"], self.path])
        digest = hmac.new(PRIVATE.encode(), text.encode(), hashlib.sha1).digest()
        expected = f"CYTOMINE {PUBLIC}:{base64.b64encode(digest).decode()}"
        signed = self.headers["Authorization"] == expected
        self.received.append({"path": self.path, "body": json.loads(body), "signed": signed})
        self.send_response(self.answer)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def core() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Core", (FakeCore,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/", received
    server.shutdown()
    server.server_close()


def settings(url: str) -> ImportSettings:
    return ImportSettings(timeout_s=60, memory_mb=2048, core_callback_url=url,
                          core_keys=f"{PUBLIC}:{PRIVATE}")  # fmt: skip


def test_an_import_calls_the_core_back_at_each_status(
    tmp_path: Path, core: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = core
    src = tmp_path / "slide.tif"
    tissue(400, 300).tiffsave(str(src), tile=True, compression="jpeg")
    manifest = import_file(LocalStorage(tmp_path / "root"), src, settings=settings(url))
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert all(r["signed"] for r in received)
    assert {r["path"] for r in received} == {f"/api/uploadedfile/{manifest.id}.json"}
    codes = [r["body"]["status"] for r in received]
    assert codes == [0, 10, 20, 30, 40, 100]  # UPLOADED ... DEPLOYED, each once, in order
    assert received[0]["body"]["size"] == src.stat().st_size
    assert received[-1]["body"]["statusName"] == "DEPLOYED"


def test_a_failed_import_ends_with_the_error_code(
    tmp_path: Path, core: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = core
    src = tmp_path / "notes.txt"
    src.write_text("not an image at all\n" * 50)
    manifest = import_file(LocalStorage(tmp_path / "root"), src, settings=settings(url))
    assert manifest.status is Status.ERROR_FORMAT
    last = received[-1]["body"]
    assert (last["status"], last["statusName"]) == (11, "ERROR_FORMAT") and last["reason"]


def test_a_core_that_is_down_or_refuses_never_fails_the_import(
    tmp_path: Path, core: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = core
    src = tmp_path / "small.png"
    tissue(200, 150).pngsave(str(src))
    down = "http://127.0.0.1:9/api"  # the discard port: nothing listens
    manifest = import_file(LocalStorage(tmp_path / "a"), src, settings=settings(down))
    assert manifest.status is Status.DEPLOYED
    FakeCore.answer = 500
    try:
        callback = CoreCallback(url, f"{PUBLIC}:{PRIVATE}")
        event = ImportEvent("upload-x", "CONVERTING", "start")
        callback(event)
        callback(event)  # not accepted: sent again
    finally:
        FakeCore.answer = 200
    assert [r["body"]["status"] for r in received] == [30, 30]


def test_keys_are_required_and_never_shown() -> None:
    with pytest.raises(ValueError):
        CoreCallback("http://127.0.0.1:1/api", "no-private")
    assert PRIVATE not in repr(ImportSettings(core_keys=f"{PUBLIC}:{PRIVATE}"))
