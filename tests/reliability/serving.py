"""A real ``cytotile serve`` subprocess for the server checks: its peak memory (VmHWM), its
log, plain HTTP and raw-socket clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cytotile.storage.local import LocalStorage
from tests.helpers.samples import sample


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.base.removeprefix("http://").split(":")
        return host, int(port)

    def vm_hwm(self) -> int:
        """Peak resident memory of the server so far (bytes)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    def get(
        self, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """Status, body and headers (lower-case names) of a GET."""
        return self.request("GET", path, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        url = self.base + urllib.parse.quote(path, safe="/?&=%:;,+")  # "slide one.svs"
        request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read(), _headers(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), _headers(exc.headers)

    def timed_get(
        self, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str], float]:
        start = time.monotonic()
        status, body, got = self.get(path, headers)
        return status, body, got, time.monotonic() - start


def _headers(message: object) -> dict[str, str]:
    return {k.lower(): v for k, v in message.items()}  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def import_sample(root: Path, name: str) -> str:
    """The image path of sample ``name`` imported under ``root``."""
    from cytotile.importer.flow import import_file

    manifest = import_file(LocalStorage(root), sample(name), name=name)
    assert manifest.status.value == "DEPLOYED", manifest.reason
    return f"{manifest.id}/{name}"


def serve(root: Path, tmp: Path, **env: str) -> Iterator[Server]:
    """``cytotile serve`` on ``root`` with ``CYTOTILE_*`` overrides ``env``, until closed."""
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
