"""The tile fast path answers exactly as the full app: status, headers in order, body."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from cytotile.api.app import create_app
from cytotile.api.fastpath import TileFastPath
from cytotile.settings import ServerSettings
from tests.api.conftest import Images

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class Counting:
    """The full app behind the fast path, counting what reaches it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


def call(app: Starlette, method: str, path: str, headers: dict[str, str] | None = None) -> Answer:
    sent: list[Message] = []
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": path.partition("?")[2].encode(),
        "headers": [(b"host", b"testserver"), *raw],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    scope["path"] = path.partition("?")[0]

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], list(start["headers"]), body


@pytest.fixture(scope="module", params=["*", "https://viewer.example"])
def apps(request: pytest.FixtureRequest, images: Images) -> tuple[Starlette, Starlette, Counting]:
    common = dict(root=str(images.root), cors_origins=request.param)
    full = create_app(ServerSettings(**common, tile_fast_path=False), images.storage)
    fast = create_app(ServerSettings(**common), images.storage)
    call(fast, "GET", "/info")  # builds the middleware stack
    layer = fast.middleware_stack
    while not isinstance(layer, TileFastPath):
        layer = layer.app  # type: ignore[union-attr]
    counting = Counting(layer.app)
    layer.app = counting
    return full, fast, counting


def urls(images: Images) -> list[str]:
    """Route paths of passthrough tiles: PIMS and DeepZoom (maxL 10: levels 10..8 are tiers)."""
    pims = [f"/image/{images.rgb.path}/{tail}" for tail in PIMS_TAILS]
    dzi = [f"/dzi/{images.rgb.path}_files/{tail}" for tail in DZI_TAILS]
    iiif = [f"/iiif/{tail.replace('ID', images.rgb.path)}" for tail in IIIF_TAILS]
    return pims + dzi + iiif


IIIF_TAILS = [  # (the identifier's %2F arrives decoded in the ASGI path)
    "3/ID/0,0,256,256/256,/0/default.jpg",
    "2/ID/256,0,256,256/256,/0/default.jpg",
    "3/ID/0,0,512,512/256,/0/color.jpg",  # level 1
    "3/ID/768,768,233,9/233,/0/default.jpg",  # the corner edge tile
    "2/ID/full/251,/0/default.jpg",  # the smallest tier, whole
]


DZI_TAILS = ["10/0_0.jpeg", "10/3_3.jpg", "9/1_1.JPEG", "8/0_0.jpeg"]
PIMS_TAILS = [
    "normalized-tile/level/0/ti/0.jpg",
    "normalized-tile/level/0/ti/15.jpg",  # the corner edge tile
    "normalized-tile/level/0/tx/3/ty/1",  # right edge, Accept-negotiated
    "normalized-tile/zoom/0/ti/0.jpeg",  # the top of the pyramid
    "normalized-tile/level/1/tx/1/ty/1.JPG",
    "normalized-tile/level/2/ti/0",
    "tile/level/0/ti/5",
    "tile/zoom/2/tx/1/ty/1.jpg",
]


FAST = [
    {},
    {"accept": "image/jpeg"},
    {"accept": "image/webp,image/apng,image/*,*/*;q=0.8"},
    {"origin": "https://viewer.example"},
    {"origin": "https://elsewhere.example", "accept": "*/*"},
]


@pytest.mark.parametrize("headers", FAST)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("prefix", ["", "/ims"])
def test_fast_answers_are_the_full_apps(
    apps: tuple[Starlette, Starlette, Counting],
    images: Images,
    headers: dict[str, str],
    method: str,
    prefix: str,
) -> None:
    full, fast, counting = apps
    for url in urls(images):
        path = prefix + url
        expected = call(full, method, path, headers)
        assert expected[0] == 200 and (b"x-cytotile-passthrough", b"1") in expected[1]
        call(fast, method, path, headers)  # the first may check the path in the full app
        before = counting.calls
        assert call(fast, method, path, headers) == expected, path
        assert counting.calls == before, f"{path} was not answered by the fast path"
        etag = dict(expected[1])[b"etag"].decode()
        for inm in (etag, f'W/{etag}, "other"', "*"):
            conditional = {**headers, "if-none-match": inm}
            expected_304 = call(full, method, path, conditional)
            assert expected_304[0] == 304
            assert call(fast, method, path, conditional) == expected_304
        assert counting.calls == before


@pytest.mark.parametrize(
    "tail",
    [
        "normalized-tile/level/0/ti/16",  # out of range: 400
        "normalized-tile/level/9/ti/0",  # no such tier: 400
        "normalized-tile/level/0/tx/4/ty/0.jpg",
        "normalized-tile/level/0/ti/1.png",  # decoded
        "normalized-tile/level/0/ti/1.bmp",  # 422
        "normalized-tile/level/0/ti/1?gammas=1.2",  # parameters: the full app
        "normalized-tile/level/0/ti/1?channels=0",
        "normalized-tile/level/0/ti/-1",
        "dzi:7/0_0.jpeg",  # below the smallest tier: rendered
        "dzi:10/0_0.png",
        "dzi:10/9_9.jpeg",  # 400
        "dzi:11/0_0.jpeg",
        "dzi:10/0_0.jpeg?channels=0",
        "iiif:3/ID/0,0,256,256/128,/0/default.jpg",  # rendered
        "iiif:3/ID/0,0,256,256/256,/90/default.jpg",
        "iiif:3/ID/0,0,256,256/256,/0/gray.jpg",
        "iiif:3/ID/0,0,256,256/256,/0/default.png",
        "iiif:3/ID/0,0,256,256/256,/0/default.jpg?channels=0",
        "iiif:4/ID/0,0,256,256/256,/0/default.jpg",  # 404
        "iiif:3/ID/2000,0,256,256/256,/0/default.jpg",  # 400
    ],
)
def test_everything_else_is_the_full_apps(
    apps: tuple[Starlette, Starlette, Counting], images: Images, tail: str
) -> None:
    full, fast, counting = apps
    path = f"/image/{images.rgb.path}/{tail}"
    if tail.startswith("dzi:"):
        path = f"/dzi/{images.rgb.path}_files/{tail[4:]}"
    if tail.startswith("iiif:"):
        path = f"/iiif/{tail[5:].replace('ID', images.rgb.path)}"
    for headers in ({}, {"origin": "https://viewer.example"}):
        expected = call(full, "GET", path, headers)
        before = counting.calls
        assert call(fast, "GET", path, headers) == expected
        assert counting.calls == before + 1


def test_other_cases_go_to_the_full_app(
    apps: tuple[Starlette, Starlette, Counting], images: Images
) -> None:
    full, fast, counting = apps
    rgb_tile = f"/image/{images.rgb.path}/normalized-tile/level/0/ti/1"
    cases = [
        ("GET", "/image/upload-nothere/x.svs/normalized-tile/level/0/ti/0", {}),  # 404
        ("GET", f"/image/{images.u16.path}/normalized-tile/level/0/ti/0", {}),  # decoded
        ("GET", rgb_tile, {"accept": "image/png"}),
        ("GET", rgb_tile, {"accept": "text/html"}),  # 406
        ("POST", rgb_tile, {}),
        ("OPTIONS", rgb_tile, {"origin": "https://viewer.example",
                               "access-control-request-method": "GET"}),  # preflight
    ]  # fmt: skip
    for method, path, headers in cases:
        for _ in range(2):
            expected = call(full, method, path, headers)
            before = counting.calls
            assert call(fast, method, path, headers) == expected, path
            assert counting.calls == before + 1
    assert call(full, "GET", cases[0][1])[0] == 404
    assert call(full, "GET", rgb_tile, {"accept": "text/html"})[0] == 406


def test_fast_path_can_be_off(images: Images) -> None:
    app = create_app(ServerSettings(root=str(images.root), tile_fast_path=False), images.storage)
    call(app, "GET", "/info")
    layer: Any = app.middleware_stack
    while hasattr(layer, "app"):
        assert not isinstance(layer, TileFastPath)
        layer = layer.app


def test_remote_storage_reads_off_the_loop_and_the_cache_is_bounded(
    images: Images, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytotile.api import fastpath
    from cytotile.api.routing import Context

    monkeypatch.setattr(fastpath, "MAX_ENTRIES", 2)
    settings = ServerSettings(root=str(images.root), cors_origins="", tile_fast_path=False)
    full = create_app(settings, images.storage)
    counting = Counting(full)
    # storage read in the thread pool, as for S3 outside Lambda
    lean = TileFastPath(counting, Context(settings, images.storage, inline_io=False), None, "")
    for path in urls(images):
        call(lean, "GET", path)  # type: ignore[arg-type]
        before = counting.calls
        assert call(lean, "GET", path) == call(full, "GET", path)  # type: ignore[arg-type]
        assert counting.calls == before
    assert lean.n_entries <= 2
