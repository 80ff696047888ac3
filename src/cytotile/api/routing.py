"""Routes whose ``{path}`` may hold slashes and whose last segment may end with ``{ext}``, and
the glue every endpoint shares: parameters from the query and the JSON body, the app's
settings and storage, blocking work in the thread pool."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cytotile.api.errors import MalformedBody
from cytotile.pipeline.args import Args
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


def context(request: Request) -> Context:
    ctx = request.app.state.cytotile
    assert isinstance(ctx, Context)
    return ctx


async def request_args(request: Request) -> Args:
    """Query parameters, overridden by a JSON object body's members."""
    args = Args.from_query(request.query_params.multi_items())
    if request.method not in ("POST", "PUT"):
        return args
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise MalformedBody(f"the JSON body is larger than {MAX_BODY} bytes")
    if not body.strip():
        return args
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedBody("the JSON body must be an object")
    return args.merged(Args.from_json(data))


def _resolved(handler: Handler, request: Request, args: Args) -> Response:
    result = handler(request, args)
    return result.work() if isinstance(result, Later) else result


def endpoint(handler: Handler, inline: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """An async endpoint reading the parameters, then running ``handler`` in the thread pool
    (storage reads, decoding and encoding block). ``inline``: when the storage allows it, run
    ``handler`` on the event loop, and only the ``Later`` work it returns in the pool (a thread
    hop costs more than a passthrough tile)."""

    async def run(request: Request) -> Response:
        args = await request_args(request)
        if not (inline and context(request).inline_io):
            return await run_in_threadpool(_resolved, handler, request, args)
        result = handler(request, args)
        if isinstance(result, Later):
            return await run_in_threadpool(result.work)
        return result

    run.__name__ = handler.__name__
    return run


def route(
    pattern: str,
    handler: Handler,
    methods: Sequence[str] = ("GET",),
    name: str | None = None,
    inline: bool = False,
) -> PatternRoute:
    return PatternRoute(pattern, endpoint(handler, inline), methods, name or handler.__name__)
