"""Checks about the server itself, against a real ``cytotile serve`` subprocess: peak memory
(VmHWM) of 108-Mpx thumbnails of sample.png, stalled request bodies, client disconnects."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.samples import sample

GiB = 1 << 30
THUMB_108MPX = {"length": 12832}  # sample.png is 290 x 442: 8419 x 12832 = 108.0 Mpx


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    def vm_hwm(self) -> int:
        """Peak resident memory of the server so far (bytes)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from cytotile.importer.flow import import_file

    root = tmp_path_factory.mktemp("served")
    manifest = import_file(LocalStorage(root), sample("sample.png"), name="sample.png")
    assert manifest.status.value == "DEPLOYED", manifest.reason
    return root, f"{manifest.id}/sample.png"


def serve(root: Path, tmp: Path, **env: str) -> Iterator[Server]:
    port = _free_port()
    log = tmp / f"server-{port}.log"
    cmd = [sys.executable, "-m", "cytotile.cli", "serve", "--root", str(root)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    child_env = {**os.environ, "CYTOTILE_ACCESS_LOG": "0", **env}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=child_env)
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if server.get("/uploads")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def server(sample_root: tuple[Path, str], tmp_path: Path) -> Iterator[Server]:
    yield from serve(
        sample_root[0], tmp_path, CYTOTILE_BODY_TIMEOUT_S="2", CYTOTILE_HEAD_TIMEOUT_S="2"
    )


def _thumb(server: Server, path: str) -> int:
    query = "&".join(f"{k}={v}" for k, v in THUMB_108MPX.items())
    status, body = server.get(f"/image/{path}/thumb.jpg?{query}", {"X-Image-Size-Safety": "UNSAFE"})
    assert status == 200, body[:300]
    assert body[:2] == b"\xff\xd8"
    return len(body)


def test_108_mpx_thumb_peak_memory(server: Server, sample_root: tuple[Path, str]) -> None:
    path = sample_root[1]
    assert server.get(f"/image/{path}/thumb.jpg")[0] == 200  # libraries loaded, caches warm
    before = server.vm_hwm()
    _thumb(server, path)
    growth = server.vm_hwm() - before
    print(f"VmHWM growth, one 108-Mpx thumb: {growth >> 20} MiB")
    assert growth < 1 * GiB


@pytest.fixture
def unqueued_server(sample_root: tuple[Path, str], tmp_path: Path) -> Iterator[Server]:
    """Three heavy outputs at once (the default on 2 CPUs is one): the budget alone bounds."""
    yield from serve(sample_root[0], tmp_path, CYTOTILE_HEAVY_REQUESTS="3")


@pytest.mark.slow
def test_three_108_mpx_thumbs_at_once(
    unqueued_server: Server, sample_root: tuple[Path, str]
) -> None:
    server, path = unqueued_server, sample_root[1]
    assert server.get(f"/image/{path}/thumb.jpg")[0] == 200
    before = server.vm_hwm()
    with ThreadPoolExecutor(3) as pool:
        sizes = list(pool.map(lambda _: _thumb(server, path), range(3)))
    assert len(sizes) == 3
    growth = server.vm_hwm() - before
    print(f"VmHWM growth, three 108-Mpx thumbs at once: {growth >> 20} MiB")
    assert growth < 2 * GiB


def _stalled(server: Server, request: bytes) -> tuple[bytes, float]:
    host, port = server.base.removeprefix("http://").split(":")
    start = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            received += chunk
    return received, time.monotonic() - start


def test_stalled_bodies_are_answered_408_and_closed(
    server: Server, sample_root: tuple[Path, str]
) -> None:
    path = sample_root[1]
    for target in (f"/image/{path}/thumb", "/upload?name=x.png"):
        head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        received, seconds = _stalled(server, head.encode() + b"Content-Length: 1000\r\n\r\n{")
        assert received.startswith(b"HTTP/1.1 408"), received[:200]
        assert seconds < 10  # 2 s here; 30 s by default, under the 40 s asked
    log = server.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log
    assert log.count("answered 408 and closed") == 2  # one info line per stalled request
    assert ServerSettings().body_timeout_s + 5 < 40


def test_stalled_request_heads_are_closed(server: Server) -> None:
    """Nothing sent, or a head that never ends (a byte now and then): closed, no answer."""
    host, port = server.base.removeprefix("http://").split(":")
    for sent in (b"", b"GET /uploads HTTP/1.1\r\nHost: x\r\n"):
        start = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(sent)
            sock.sendall(b"X")  # a trickle: uvicorn's keep-alive timer alone would not close it
            assert sock.recv(100) == b""  # closed by the server
        assert time.monotonic() - start < 10
    assert server.get("/uploads")[0] == 200  # a normal request still works
    assert "Traceback" not in server.log.read_text()
    assert ServerSettings().head_timeout_s < 40


def test_client_disconnects_are_one_info_line(
    server: Server, sample_root: tuple[Path, str]
) -> None:
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /image/{sample_root[1]}/thumb HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 100\r\n\r\n{".encode()
        )
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while "went away" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log.read_text()
    assert log.count("went away") == 1, log[-2000:]
    assert "Traceback" not in log and "ERROR" not in log
