"""Every request of issue 12's list, replayed against a real ``cytotile serve`` with its
default settings: a 4xx JSON answer with a reason (or a valid image for the 1x1 cases),
never a 5xx, no traceback in the log; the sub-path DELETE leaves the image in place."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips

from tests.reliability.conftest import Root
from tests.reliability.serving import Server, serve

JSON = {"Content-Type": "application/json"}
UNSAFE = {"X-Image-Size-Safety": "UNSAFE"}
NESTED_1000 = b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}"
NESTED_OBJECTS = b'{"a": ' + b'{"b": ' * 1000 + b"1" + b"}" * 1001
HUGE_INTEGER = b'{"length": 1' + b"0" * 400 + b"}"


@pytest.fixture(scope="module")
def server(root: Root, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(root.path, tmp_path_factory.mktemp("log"))


def _post(server: Server, path: str, body: bytes | dict[str, object]) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, answer, _ = server.request("POST", path, data, JSON)
    return status, answer


def _refused(answer: tuple[int, bytes], *statuses: int) -> str:
    status, body = answer
    assert status in statuses, (status, body[:300])
    details = json.loads(body)["details"]
    assert details
    return str(details)


def _size(answer: tuple[int, bytes]) -> tuple[int, int]:
    assert answer[0] == 200, answer[1][:300]
    image = pyvips.Image.new_from_buffer(answer[1], "")
    return image.width, image.height


def test_one_pixel_outputs(server: Server, root: Root) -> None:
    u16, svs = root.u16.path, root.rgb.path  # a 16-bit grey TIFF, an RGB "slide one.svs"
    assert _size(server.get(f"/image/{u16}/thumb?length=1")[:2]) == (1, 1)
    assert _size(server.get(f"/image/{svs}/thumb?length=1&channels=0")[:2]) == (1, 1)
    assert _size(server.get(f"/image/{u16}/thumb.png?length=1")[:2]) == (1, 1)


def test_outputs_beyond_the_encoders_side_limits(server: Server, root: Root) -> None:
    region = {"left": 0, "top": 0, "width": 256, "height": 1}
    jpeg = _post(server, f"/image/{root.rgb.path}/window", {"region": region, "height": 256})
    assert "65500" in _refused(jpeg, 400)
    webp = _post(server, f"/image/{root.rgb.path}/window.webp", {"region": region, "height": 64})
    assert "16383" in _refused(webp, 400)


def test_unsafe_sizes_that_cannot_be_allocated(server: Server, root: Root) -> None:
    status, body, _ = server.get(f"/image/{root.rgb.path}/thumb?length=14024361", UNSAFE)
    _refused((status, body), 400, 413)


def _post_urls(server: Server, image_path: str) -> list[str]:
    """A concrete URL of every POST operation of the server's /openapi.json."""
    spec = json.loads(server.get("/openapi.json")[1])
    examples = {"path": image_path, "tier": "zoom", "format": "jpg"}
    return [
        re.sub(r"\{(\w+)\}", lambda m: examples.get(m.group(1), "0"), path)
        for path, operations in spec["paths"].items()
        if "post" in operations
    ]


@pytest.mark.parametrize(
    "body", [HUGE_INTEGER, NESTED_1000, NESTED_OBJECTS], ids=["1e400", "nested", "objects"]
)
def test_bad_json_on_every_post_route(server: Server, root: Root, body: bytes) -> None:
    urls = _post_urls(server, root.rgb.path)
    assert any("/annotation/" in url for url in urls) and len(urls) > 20
    for url in urls:
        status, answer = _post(server, url, body)
        if url.startswith("/upload") and "presigned" not in url:
            assert status < 500 or status == 501, (url, status)  # a raw file upload: its bytes
        elif "presigned" in url:  # no upload bucket on this server: the feature is absent
            assert status in (400, 422, 501), (url, status)
        else:
            _refused((status, answer), 400)
    assert "Traceback" not in server.log.read_text()


def test_annotation_routes_answer(server: Server, root: Root) -> None:
    """The POST routes of annotations draw what they are sent (a replayed request is not
    only refused)."""
    square = "POLYGON ((10 10, 60 10, 60 60, 10 60, 10 10))"
    body = {"annotations": [{"geometry": square}], "context_factor": 1.0}
    for kind in ("mask", "crop", "drawing"):
        width, height = _size(_post(server, f"/image/{root.rgb.path}/annotation/{kind}.png", body))
        assert 0 < width <= 300 and 0 < height <= 200


def test_paths_past_the_image_and_sub_path_deletes(server: Server, root: Root) -> None:
    image = root.grey
    info = f"/image/{image.path}/info"
    assert server.get(info)[0] == 200
    assert _refused(server.get(f"/image/{image.upload_id}/manifest.json/info")[:2], 404)
    for sub in ("normalized-tile/zoom/0/ti/0", "thumb", "info"):
        status, body, _ = server.request("DELETE", f"/image/{image.path}/{sub}")
        _refused((status, body), 404, 405)
    assert server.get(info)[0] == 200  # still there
    assert Path(root.path, image.upload_id).is_dir()


def test_the_log_has_no_server_error(server: Server) -> None:
    log = server.log.read_text()
    errors = [line for line in log.splitlines() if line.startswith("ERROR")]
    assert "Traceback" not in log and not errors, log[-3000:]
