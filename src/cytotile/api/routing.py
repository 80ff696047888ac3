"""Routes whose ``{path}`` may hold slashes and whose last segment may end with ``{ext}``, and
the glue every endpoint shares: parameters from the query and the JSON body, the app's
settings and storage, blocking work in the thread pool."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cytotile.api.errors import MalformedBody
from cytotile.api.heavy import HeavyQueue
from cytotile.api.jsonbody import parse_json
from cytotile.api.openapi import Op, describe
from cytotile.pipeline.args import Args
from cytotile.pipeline.image import check_image_path, image_path_known, verified_image_path
from cytotile.settings import ServerSettings
from cytotile.storage.base import Storage

MAX_BODY = 1 << 20
PIECES = {
    "path": r"(?P<path>.+?)",
    "ext": r"(?P<ext>\.(?:[A-Za-z][A-Za-z0-9]{0,4}))?",
    "tier": r"(?P<tier>zoom|level)",
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Later:
    """What a handler returns for work that must not run on the event loop."""

    work: Callable[[], Response]
    #: a large output: runs under the app's semaphore of heavy requests (tiles never wait)
    heavy: bool = False
    #: the estimated seconds of ``work`` (budget.seconds): how long it holds the queue
    seconds: float = 0.0


Handler = Callable[[Request, Args], "Response | Later"]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/image/{path}/tile/{tier}/{n}/ti/{ti}{ext}`` to a regex: ``{path}`` may hold slashes,
    other names are one segment (non-greedy, so that ``{ext}`` can follow)."""
    parts, pos = [], 0
    for match in PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[pos : match.start()]))
        name = match.group(1)
        parts.append(PIECES.get(name, rf"(?P<{name}>[^/]+?)"))
        pos = match.end()
    parts.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(parts) + "$")


class PatternRoute(Route):
    def __init__(
        self, pattern: str, endpoint: Callable[..., object], methods: Sequence[str], name: str
    ) -> None:
        super().__init__("/", endpoint, methods=list(methods), name=name)
        self.path = pattern
        self.path_regex = compile_pattern(pattern)
        self.param_convertors = {k: StringConvertor() for k in self.path_regex.groupindex}


@dataclass(frozen=True)
class Context:
    settings: ServerSettings
    storage: Storage
    #: storage reads are quick enough for the event loop (a local folder; or one request at a
    #: time, as on Lambda): cheap handlers then skip the thread pool
    inline_io: bool = False
    #: bounds how many heavy outputs are made at once (None: no bound)
    heavy: asyncio.Semaphore | None = field(default=None, compare=False)
    #: admits heavy outputs through ``heavy`` when they can end within the time budget
    queue: HeavyQueue | None = field(default=None, compare=False, init=False)

    def __post_init__(self) -> None:
        if self.heavy is not None:
            queue = HeavyQueue(self.heavy, self.settings.request_time_s)
            object.__setattr__(self, "queue", queue)


def context(request: Request) -> Context:
    ctx = request.app.state.cytotile
    assert isinstance(ctx, Context)
    return ctx


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise MalformedBody(f"the JSON body is larger than {limit} bytes")
    return body


async def request_args(request: Request) -> Args:
    """Query parameters, overridden by a JSON object body's members."""
    args = Args.from_query(request.query_params.multi_items())
    if request.method not in ("POST", "PUT"):
        return args
    body = await read_body(request)
    if not body.strip():
        return args
    data = parse_json(body)
    if not isinstance(data, dict):
        raise MalformedBody("the JSON body must be an object")
    return args.merged(Args.from_json(data))


def _resolved(handler: Handler, request: Request, args: Args) -> Response | Later:
    result = handler(request, args)
    if isinstance(result, Later) and not result.heavy:
        return result.work()
    return result


async def check_path(request: Request) -> None:
    """ImageNotFound unless the ``{path}`` of an ``/image/`` route names an image (see
    :func:`check_image_path`); reads storage only the first time an upload is seen."""
    ctx = context(request)
    path = request.path_params["path"]
    if verified_image_path(ctx.storage, path) is not None:  # the hot path: one dict lookup
        return
    if ctx.inline_io or image_path_known(ctx.storage, path):
        check_image_path(ctx.storage, path)
    else:
        await run_in_threadpool(check_image_path, ctx.storage, path)


async def run_later(request: Request, later: Later) -> Response:
    queue = context(request).queue
    if later.heavy and queue is not None:  # waits on the event loop: no thread held meanwhile
        return await queue.run(later.seconds, later.work)
    return await run_in_threadpool(later.work)


def endpoint(
    handler: Handler, inline: bool = False, image_path: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """An async endpoint reading the parameters, then running ``handler`` in the thread pool
    (storage reads, decoding and encoding block). ``inline``: when the storage allows it, run
    ``handler`` on the event loop, and only the ``Later`` work it returns in the pool (a thread
    hop costs more than a passthrough tile). ``image_path``: ``{path}`` must name an image."""

    async def run(request: Request) -> Response:
        args = await request_args(request)
        if image_path:
            await check_path(request)
        if inline and context(request).inline_io:
            result = handler(request, args)
        else:
            result = await run_in_threadpool(_resolved, handler, request, args)
        if isinstance(result, Later):
            return await run_later(request, result)
        return result

    run.__name__ = handler.__name__
    return run


def route(
    pattern: str,
    handler: Handler,
    methods: Sequence[str] = ("GET",),
    name: str | None = None,
    inline: bool = False,
    doc: Op | None = None,
    image_path: bool | None = None,
) -> PatternRoute:
    """``doc``: the route's OpenAPI description (:mod:`cytotile.api.openapi`). ``image_path``:
    check that ``{path}`` names an image before the handler runs (by default on every route
    with a ``{path}`` but files'); False for a handler that checks it itself (IIIF's, whose
    errors carry CORS)."""
    if image_path is None:
        image_path = "{path}" in pattern and not pattern.startswith("/file/")
    run = endpoint(handler, inline, image_path)
    made = PatternRoute(pattern, run, methods, name or handler.__name__)
    if doc is not None:
        describe(made, doc)
    return made
