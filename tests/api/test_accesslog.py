"""The access log: uvicorn's line for each request, written at the response's start."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from uvicorn.logging import AccessFormatter

from cytotile.api.accesslog import AccessLog
from tests.reliability.serving import serve

UVICORN_FORMAT = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'


def uvicorn_line(scope: dict[str, Any], status: int, colours: bool) -> str:
    """What uvicorn's access logger writes for the request (its httptools protocol's call)."""
    from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        (get_client_addr(scope), scope["method"], get_path_with_query_string(scope),  # type: ignore[arg-type]
         scope["http_version"], status),
        None,
    )  # fmt: skip
    return AccessFormatter(UVICORN_FORMAT, use_colors=colours).format(record) + "\n"


def scope_of(path: str, query: bytes = b"", client: Any = ("127.0.0.1", 52330)) -> dict[str, Any]:
    return {
        "type": "http", "method": "GET", "path": path, "query_string": query,
        "http_version": "1.1", "client": client, "headers": [],
    }  # fmt: skip


CASES = [
    (scope_of("/image/u/x.svs/info"), 200),
    (scope_of("/image/u/slide one.svs/thumb.jpg", b"length=256&gammas=1.2"), 200),
    (scope_of("/image/u/lame\u0301.svs/info"), 404),  # quoted, as uvicorn quotes it
    (scope_of("/uploads", client=None), 500),  # no client: an empty address
    (scope_of("/x", client=("10.0.0.7", 8080)), 304),
    (scope_of("/teapot"), 599),  # a status without a phrase
    (scope_of("/continue"), 101),
]


@pytest.mark.parametrize("colours", [False, True])
@pytest.mark.parametrize(("scope", "status"), CASES)
def test_the_line_is_uvicorns(scope: dict[str, Any], status: int, colours: bool) -> None:
    log = AccessLog(app=None, colours=colours)  # type: ignore[arg-type]
    assert log.line(scope, status) == uvicorn_line(scope, status, colours)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    yield read, write
    for fd in (read, write):
        with contextlib.suppress(OSError):  # closed by the test
            os.close(fd)


def app_of() -> Starlette:
    async def ok(request: Request) -> Response:
        return PlainTextResponse("x" * 100_000)  # a body of several messages' worth

    async def fail(request: Request) -> Response:
        raise RuntimeError("boom")

    return Starlette(routes=[Route("/ok", ok), Route("/fail", fail)])


def drained(fd: int) -> str:
    try:
        return os.read(fd, 1 << 20).decode()
    except BlockingIOError:
        return ""


def test_one_line_a_request_at_its_start(pipe: tuple[int, int]) -> None:
    read, write = pipe
    client = TestClient(AccessLog(app_of(), fd=write, colours=False), raise_server_exceptions=False)
    assert client.get("/ok?a=1").status_code == 200
    assert client.get("/missing").status_code == 404
    assert client.get("/fail").status_code == 500
    lines = drained(read).splitlines()
    assert len(lines) == 3
    assert lines[0].endswith('- "GET /ok?a=1 HTTP/1.1" 200 OK')
    assert lines[1].endswith('- "GET /missing HTTP/1.1" 404 Not Found')
    assert lines[2].endswith('- "GET /fail HTTP/1.1" 500 Internal Server Error')
    assert all(line.startswith("INFO:     testclient:") for line in lines)


def test_a_closed_output_loses_the_line_not_the_request(pipe: tuple[int, int]) -> None:
    read, write = pipe
    os.close(read)  # writing now fails (EPIPE; SIGPIPE is ignored by Python)
    client = TestClient(AccessLog(app_of(), fd=write, colours=False))
    response = client.get("/ok")
    assert response.status_code == 200 and len(response.content) == 100_000


def test_other_scopes_pass_through(pipe: tuple[int, int]) -> None:
    read, write = pipe
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    import asyncio

    asyncio.run(AccessLog(app, fd=write)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"] and drained(read) == ""


def test_cytotile_serve_writes_it(tmp_path: Path) -> None:
    """The real server, log on: uvicorn's line on standard output, once a request."""
    root = tmp_path / "root"
    root.mkdir()
    for server in serve(root, tmp_path, CYTOTILE_ACCESS_LOG="1"):
        assert server.get("/uploads")[0] == 200
        assert server.get("/image/none/x.svs/info")[0] == 404
        server.proc.terminate()
        server.proc.wait(10)
        log = server.log.read_text()
        assert log.count('"GET /image/none/x.svs/info HTTP/1.1" 404 Not Found') == 1
        assert '"GET /uploads HTTP/1.1" 200 OK' in log
