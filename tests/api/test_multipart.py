"""The streaming multipart reader, fed in chunks of every size."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cytotile.api.errors import MalformedBody
from cytotile.api.multipart import Received, receive

BOUNDARY = "----cytotileBoundary7MA4YWxkTrZu0gW"


def form(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b"preamble to ignore\r\n"
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\nepilogue".encode()


async def chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def run(body: bytes, size: int, folder: Path, content_type: str | None = None) -> list[Received]:
    ctype = content_type or f"multipart/form-data; boundary={BOUNDARY}"
    return asyncio.run(receive(ctype, chunked(body, size), folder))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 38, 39, 40, 64, 4096, 1 << 20])
def test_chunk_sizes(tmp_path: Path, size: int) -> None:
    tricky = b"\r\n--" + BOUNDARY[:-1].encode() + b"\r\n--" + os.urandom(3000) + b"\r\n-"
    parts = [
        ("core", None, b"field value"),
        ("files[]", "a b.svs", tricky),
        ("files[]", "empty.bin", b""),
        ("file", "c.png", b"\r\n"),
    ]
    received = run(form(parts), size, tmp_path)
    assert [(r.field, r.filename) for r in received] == [
        ("files[]", "a b.svs"), ("files[]", "empty.bin"), ("file", "c.png"),
    ]  # fmt: skip
    assert received[0].path.read_bytes() == tricky and received[0].size == len(tricky)
    assert received[1].path.read_bytes() == b""
    assert received[2].path.read_bytes() == b"\r\n"


def test_quoted_boundary_and_raw_body(tmp_path: Path) -> None:
    body = form([("file", "x", b"data")])
    ctype = f'multipart/form-data; boundary="{BOUNDARY}"'
    assert run(body, 5, tmp_path, ctype)[0].path.read_bytes() == b"data"
    raw = asyncio.run(receive("image/png", chunked(b"png!", 2), tmp_path, "y.png"))
    assert raw[0].filename == "y.png" and raw[0].path.read_bytes() == b"png!"


@pytest.mark.parametrize(
    "body",
    [
        form([("file", "x", b"data")])[:-20],  # no closing boundary
        f"--{BOUNDARY}XX".encode(),  # garbage after a boundary
        f"--{BOUNDARY}\r\n".encode() + b"A" * 20000,  # endless part headers
    ],
)
def test_malformed(tmp_path: Path, body: bytes) -> None:
    with pytest.raises(MalformedBody):
        run(body, 100, tmp_path)


def test_no_boundary(tmp_path: Path) -> None:
    with pytest.raises(MalformedBody):
        run(b"", 1, tmp_path, "multipart/form-data")
