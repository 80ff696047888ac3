"""A streaming ``multipart/form-data`` reader: file parts go straight to disk, in bounded memory
(the largest buffer is one network chunk plus the boundary). No third-party parser needed.

A body that is not multipart is taken as the file itself (``?name=`` gives its name).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cytotile.api.errors import MalformedBody

MAX_HEADERS = 16 * 1024
MAX_PARTS = 64
BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.I)
PARAM = re.compile(r';\s*([\w*]+)="((?:[^"\\]|\\.)*)"|;\s*([\w*]+)=([^;\s]+)')


@dataclass
class Received:
    field: str
    filename: str
    path: Path
    size: int


def _disposition(raw: bytes) -> dict[str, str]:
    params: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() != "content-disposition":
            continue
        for match in PARAM.finditer(value):
            key = (match.group(1) or match.group(3)).lower()
            params[key] = match.group(2) if match.group(1) else match.group(4)
    return params


class _Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[Received] = []
        self.out: BinaryIO | None = None

    def begin(self, headers: bytes) -> None:
        params = _disposition(headers)
        filename = params.get("filename")
        if filename is None:  # a plain form field: ignored
            self.out = None
            return
        if len(self.files) >= MAX_PARTS:
            raise MalformedBody(f"more than {MAX_PARTS} files in one upload")
        path = self.folder / f"part-{len(self.files)}"
        self.files.append(Received(params.get("name", ""), filename or "upload", path, 0))
        self.out = open(path, "wb")  # noqa: SIM115 - closed in end()

    def write(self, data: bytes | bytearray) -> None:
        if self.out is not None and data:
            self.out.write(data)
            self.files[-1].size += len(data)

    def end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


async def receive(
    content_type: str, chunks: AsyncIterator[bytes], folder: Path, raw_name: str = "upload"
) -> list[Received]:
    if not content_type.lower().startswith("multipart/form-data"):
        return await _raw(chunks, folder, raw_name)
    match = BOUNDARY.search(content_type)
    if not match:
        raise MalformedBody("multipart/form-data without a boundary")
    writer = _Writer(folder)
    try:
        done = await _parse(b"\r\n--" + match.group(1).encode(), chunks, writer)
    finally:
        writer.end()
    if not done:
        raise MalformedBody("the multipart body is truncated")
    return writer.files


async def _raw(chunks: AsyncIterator[bytes], folder: Path, name: str) -> list[Received]:
    path = folder / "part-0"
    size = 0
    with open(path, "wb") as out:
        async for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
    if size == 0:
        raise MalformedBody("the request has no file (send multipart field files[] or file)")
    return [Received("file", name, path, size)]


async def _parse(delim: bytes, chunks: AsyncIterator[bytes], writer: _Writer) -> bool:
    buf = bytearray(b"\r\n")  # the first boundary has no CRLF before it
    state = "preamble"
    async for chunk in chunks:
        buf += chunk
        while True:
            if state in ("preamble", "body"):
                i = buf.find(delim)
                if i < 0:
                    keep = len(delim)
                    if len(buf) > keep:
                        if state == "body":
                            writer.write(buf[:-keep])
                        del buf[:-keep]
                    break
                if state == "body":
                    writer.write(buf[:i])
                    writer.end()
                del buf[: i + len(delim)]
                state = "after"
            if state == "after":
                if len(buf) < 2:
                    break
                if buf[:2] == b"--":
                    return True
                if buf[:2] != b"\r\n":
                    raise MalformedBody("malformed multipart boundary")
                del buf[:2]
                state = "headers"
            if state == "headers":
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    if len(buf) > MAX_HEADERS:
                        raise MalformedBody("multipart part headers too large")
                    break
                writer.begin(bytes(buf[:i]))
                del buf[: i + 4]
                state = "body"
    return False
