"""Stalled and abandoned connections, against a real ``cytotile serve``: 20 request bodies
that stall at once are answered 408 and closed (a 2-s deadline here; the default 30 s in the
slow test), request heads that never end are closed, a client gone mid-body is one info line;
the server answers tiles meanwhile, and logs no traceback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cytotile.settings import ServerSettings
from tests.reliability.serving import Server, serve

STALLED = 20
ISSUE_LIMIT_S = 40  # each stalled connection closed (or answered 408) within this


@pytest.fixture
def server(sample_root: tuple[Path, str], tmp_path: Path) -> Iterator[Server]:
    yield from serve(
        sample_root[0], tmp_path, CYTOTILE_BODY_TIMEOUT_S="2", CYTOTILE_HEAD_TIMEOUT_S="2"
    )


@pytest.fixture
def default_server(sample_root: tuple[Path, str], tmp_path: Path) -> Iterator[Server]:
    yield from serve(sample_root[0], tmp_path)


def _stalled(server: Server, request: bytes) -> tuple[bytes, float]:
    """Sends ``request`` (a head and part of a body), then waits until the server closes."""
    start = time.monotonic()
    with socket.create_connection(server.address, timeout=ISSUE_LIMIT_S + 20) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received, time.monotonic() - start


def _stall_many(server: Server, path: str) -> float:
    """``STALLED`` stalled bodies at once (thumb, upload and annotation routes); tiles are
    served meanwhile. Returns the slowest close."""
    targets = [f"/image/{path}/thumb", "/upload?name=x.png", f"/image/{path}/annotation/drawing"]
    requests = []
    for k in range(STALLED):
        head = f"POST {targets[k % 3]} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        requests.append(head.encode() + b"Content-Length: 1000\r\n\r\n{")
    tile = f"/image/{path}/normalized-tile/zoom/0/ti/0.jpg"
    with ThreadPoolExecutor(STALLED) as pool:
        stalls = [pool.submit(_stalled, server, request) for request in requests]
        time.sleep(0.5)
        status, _, _, seconds = server.timed_get(tile)
        assert status == 200 and seconds < 2  # served while the 20 stall
        answers = [stall.result() for stall in stalls]
    for received, _ in answers:
        assert received.startswith(b"HTTP/1.1 408"), received[:200]
    log = server.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log
    assert log.count("answered 408 and closed") == STALLED  # one info line each
    return max(seconds for _, seconds in answers)


def test_stalled_bodies_at_once_are_answered_408_and_closed(
    server: Server, sample_root: tuple[Path, str]
) -> None:
    assert _stall_many(server, sample_root[1]) < 2 + 5


@pytest.mark.slow
def test_stalled_bodies_at_once_with_the_default_settings(
    default_server: Server, sample_root: tuple[Path, str]
) -> None:
    slowest = _stall_many(default_server, sample_root[1])
    print(f"{STALLED} stalled bodies at once: all closed within {slowest:.1f} s")
    assert ServerSettings().body_timeout_s <= slowest < ISSUE_LIMIT_S


def test_stalled_request_heads_are_closed(server: Server) -> None:
    """Nothing sent, or a head that never ends (a byte now and then): closed, no answer."""
    for sent, trickle in ((b"", b"G"), (b"GET /uploads HTTP/1.1\r\nHost: x\r\n", b"X")):
        start = time.monotonic()
        with socket.create_connection(server.address, timeout=30) as sock:
            sock.sendall(sent)
            sock.sendall(trickle)  # uvicorn's keep-alive timer alone would not close it
            assert sock.recv(100) == b""  # closed by the server
        assert time.monotonic() - start < 10
    assert server.get("/uploads")[0] == 200  # a normal request still works
    assert "Traceback" not in server.log.read_text()
    assert ServerSettings().head_timeout_s < ISSUE_LIMIT_S


def test_client_disconnects_are_one_info_line(
    server: Server, sample_root: tuple[Path, str]
) -> None:
    with socket.create_connection(server.address, timeout=10) as sock:
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


def test_serve_runs_httptools_on_uvloop(server: Server) -> None:
    """The server extra's parser and loop are the ones ``cytotile serve`` loaded."""
    maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
    assert "/httptools/" in maps and "/uvloop/" in maps
