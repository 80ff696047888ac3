"""``cytotile serve``'s HTTP protocol on both of uvicorn's parsers (httptools, the default, and
h11 without it): the request-head deadline, the head size limit, malformed requests answered
4xx, and tiles over keep-alive and pipelined connections (GET, HEAD, If-None-Match) answered
alike on both."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from cytotile.api.app import create_app
from cytotile.api.head_deadline import MAX_HEAD_BYTES, protocol_class, stack
from cytotile.settings import ServerSettings
from tests.api.conftest import Images

DEADLINE_S = 1.0
STACKS = {"httptools": "uvloop", "h11": "asyncio"}  # parser -> event loop, as ``serve`` pairs


@pytest.fixture(scope="module")
def servers(images: Images) -> Iterator[dict[str, tuple[str, int]]]:
    """Both stacks serving the API on ``images`` (a thread each), by parser name."""
    app = create_app(ServerSettings(root=str(images.root)), images.storage)
    running = []
    addresses = {}
    for http, loop in STACKS.items():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, http=protocol_class(DEADLINE_S, http), loop=loop,
            lifespan="off", log_config=None, access_log=False, timeout_keep_alive=60,
        )  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        addresses[http] = ("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 20
        while not all(server.started for server, _ in running):
            assert time.monotonic() < deadline, "the servers did not start"
            time.sleep(0.05)
        yield addresses
    finally:
        for server, thread in running:
            server.should_exit = True
            thread.join(10)


def exchange(address: tuple[str, int], data: bytes | list[bytes], wait_s: float = 10) -> bytes:
    """Everything the server sends until it closes (or ``wait_s`` of silence); a list is sent
    in pieces, 5 ms apart (each its own read on the server)."""
    received = b""
    with socket.create_connection(address, timeout=wait_s) as sock:
        try:
            for piece in [data] if isinstance(data, bytes) else data:
                sock.sendall(piece)
                if not isinstance(data, bytes):
                    time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before the end: the answer is read below
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def answers(data: bytes, methods: list[str]) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """HTTP/1.1 answers with Content-Length (one per request method), ``date`` left out."""
    found = []
    for method in methods:
        head, _, data = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = [(k.lower(), v.strip()) for k, _, v in (x.partition(":") for x in lines)]
        status = int(status_line.split()[1])
        length = 0 if method == "HEAD" or status == 304 else int(dict(headers)["content-length"])
        body, data = data[:length], data[length:]
        found.append((status, [h for h in headers if h[0] != "date"], body))
    assert data == b"", data[:100]
    return found


def request(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: tiles", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_auto_is_httptools_when_installed_else_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert stack() == "httptools"  # (the server extra pins it)
    assert issubclass(protocol_class(DEADLINE_S), HttpToolsProtocol)
    assert issubclass(protocol_class(DEADLINE_S, "h11"), H11Protocol)
    monkeypatch.setitem(sys.modules, "httptools", None)  # httptools absent: import fails
    assert stack() == "h11" and issubclass(protocol_class(DEADLINE_S), H11Protocol)


def test_tiles_pipelined_and_kept_alive_alike_on_both(
    servers: dict[str, tuple[str, int]], images: Images
) -> None:
    tile = f"/image/{images.rgb.path}/normalized-tile/level/0/ti/0.jpg"
    first = answers(exchange(servers["httptools"], request("GET", tile), 2), ["GET"])[0]
    etag = dict(first[1])["etag"]
    assert first[0] == 200 and dict(first[1])["x-cytotile-passthrough"] == "1"
    methods = ["GET", "HEAD", "GET", "GET"]
    pipelined = b"".join(
        [
            request("GET", tile),
            request("HEAD", tile),
            request("GET", tile, f"If-None-Match: {etag}"),
            request("GET", tile, "Connection: close"),
        ]
    )
    got = {http: answers(exchange(at, pipelined), methods) for http, at in servers.items()}
    assert got["httptools"] == got["h11"]
    get, head, revalidated, last = got["httptools"]
    assert get == first and last[2] == first[2]
    assert head[0] == 200 and head[1] == first[1] and head[2] == b""  # Content-Length, no body
    assert revalidated[0] == 304 and revalidated[2] == b"" and ("etag", etag) in revalidated[1]
    assert ("connection", "close") in last[1]


@pytest.mark.parametrize("http", list(STACKS))
def test_heads_that_never_end_are_closed(servers: dict[str, tuple[str, int]], http: str) -> None:
    address = servers[http]
    for sent in ([b""], [b"G"], [b"GET /info HTTP/1.1\r\n", b"Host: x\r\n", b"X"]):
        start = time.monotonic()
        assert exchange(address, sent, 10) == b""  # closed, no answer
        # (uvloop's clock is the loop iteration's, in ms; the sweep runs once a second)
        assert DEADLINE_S - 0.05 <= time.monotonic() - start < DEADLINE_S + 5
    start = time.monotonic()  # a kept-alive connection that sends no next request
    received = exchange(address, request("GET", "/info"), 10)
    assert answers(received, ["GET"])[0][0] == 200
    assert time.monotonic() - start < DEADLINE_S + 5  # (uvicorn's keep-alive: 60 s here)


@pytest.mark.parametrize("http", list(STACKS))
def test_a_head_over_the_limit_is_400(servers: dict[str, tuple[str, int]], http: str) -> None:
    pieces = [b"GET /info HTTP/1.1\r\nHost: x\r\n"]
    pieces += [b"X-Pad-%d: %s\r\n" % (k, b"a" * 1000) for k in range(MAX_HEAD_BYTES // 1000 + 4)]
    received = exchange(servers[http], [*pieces, b"\r\n"])
    assert received.startswith(b"HTTP/1.1 400 "), received[:100]
    normal = [b"GET /info HTTP/1.1\r\nHost: x\r\n", b"X-Pad: " + b"a" * 4000 + b"\r\n"]
    assert answers(exchange(servers[http], [*normal, b"Connection: close\r\n\r\n"]), ["GET"])


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
    b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
]
#: 400 from httptools; h11 lets them reach the app, and fails in writing the answer (logged
#: with a traceback): the reason httptools is the default
MALFORMED_HTTPTOOLS = [
    b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    b"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
]


@pytest.mark.parametrize("http", list(STACKS))
def test_malformed_requests_are_400_without_a_traceback(
    servers: dict[str, tuple[str, int]], http: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for sent in MALFORMED + (MALFORMED_HTTPTOOLS if http == "httptools" else []):
        received = exchange(servers[http], sent)
        assert received.startswith(b"HTTP/1.1 400 "), (sent, received[:100])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
