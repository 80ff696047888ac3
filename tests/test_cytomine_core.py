"""The core client's failures (cytotile.cytomine_core): whatever a core does, a CoreError with
the core's status when it answered, never another exception."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from cytotile.cytomine_core import CoreClient, CoreError, parse_pair


@pytest.mark.parametrize(
    ("reply", "status", "words"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nnot json", None, "not JSON"),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a"', None, "no answer"),
        (b'HTTP/1.1 404 Not Found\r\nContent-Length: 18\r\n\r\n{"errors": "gone"}', 404, "gone"),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nbad", 500, "Oops"),
        (b"", None, "no answer"),  # silent: the timeout
    ],
)
def test_every_failure_is_a_core_error(reply: bytes, status: int | None, words: str) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            if reply:
                conn.sendall(reply)
            else:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = CoreClient.from_settings(f"http://127.0.0.1:{server.getsockname()[1]}/api",
                                      "pub:priv", timeout_s=0.5)  # fmt: skip
    try:
        with pytest.raises(CoreError) as failed:
            client.get("userkey/pub/keys.json")
    finally:
        thread.join(5)
        server.close()
    assert failed.value.status == status and words in str(failed.value)
    assert "priv" not in str(failed.value) and "priv" not in repr(client)


def test_nothing_listening_and_bad_pairs() -> None:
    with pytest.raises(CoreError) as failed:
        CoreClient.from_settings("http://127.0.0.1:9/api", "a:b", timeout_s=0.5).get("x.json")
    assert failed.value.status is None
    for wrong in ("", "nocolon", ":private", "public:"):
        with pytest.raises(ValueError):
            parse_pair(wrong)
