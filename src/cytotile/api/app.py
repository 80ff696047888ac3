"""The application factory and the local server.

    app = create_app()                       # settings from CYTOTILE_* variables
    app = create_app(ServerSettings(root="./data"), storage=LocalStorage("./data"))

Nothing is read or opened at import; storage is opened when the app is created and pyramids
when they are first asked for.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from cytotile.api import (
    associated,
    dzi,
    exports,
    histograms,
    info,
    metadata,
    openapi,
    presigned,
    thumbs,
    tiles,
    uploads,
    viewer,
    windows,
)
from cytotile.api.annotations import routes as annotation_routes
from cytotile.api.basepath import BasePath
from cytotile.api.cytomine_auth import AuthConfig, CytomineAuth
from cytotile.api.cytomine_secret import with_secret
from cytotile.api.errors import HANDLERS, CatchAll
from cytotile.api.fastpath import fast_path
from cytotile.api.iiif import routes as iiif_routes
from cytotile.api.routing import Context
from cytotile.api.storage import routes as storage_routes
from cytotile.api.timeouts import BodyDeadline
from cytotile.settings import ServerSettings, from_env
from cytotile.storage import open_storage
from cytotile.storage.base import Storage
from cytotile.storage.local import LocalStorage

LAMBDA_ENV = "AWS_LAMBDA_FUNCTION_NAME"  # set by the Lambda runtime: one request at a time
EXPOSED_HEADERS = ["ETag", "X-Cytotile-Passthrough", "X-Pims-Cache", "X-Image-Size-Limit"]


def all_routes() -> list[BaseRoute]:
    return [  # tiles first: the most frequent requests match the fewest patterns
        *tiles.routes(),
        *iiif_routes.routes(),  # IIIF and DeepZoom tiles: frequent too
        *dzi.routes(),
        *info.routes(),
        *metadata.routes(),
        *histograms.routes(),
        *associated.routes(),
        *thumbs.routes(),
        *windows.routes(),
        *annotation_routes(),
        *exports.routes(),
        *presigned.routes(),
        *uploads.routes(),
        *storage_routes(),
        *viewer.routes(),
        *openapi.routes(),
    ]


def heavy_slots() -> int:
    """Heavy outputs made at once by default: half the CPUs this process may run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


def create_app(settings: ServerSettings | None = None, storage: Storage | None = None) -> Starlette:
    settings = with_secret(settings or from_env(ServerSettings))  # Cytomine's keys, if there
    storage = storage or open_storage(settings.root)
    inline_io = isinstance(storage, LocalStorage) or bool(os.environ.get(LAMBDA_ENV))
    heavy = asyncio.Semaphore(settings.heavy_requests or heavy_slots())
    ctx = Context(settings, storage, inline_io, heavy)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    cors: dict[str, Any] | None = None
    if origins:
        cors = dict(
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "POST", "DELETE"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
            max_age=3600,
        )
    middleware = []
    auth = AuthConfig.from_settings(settings)  # Cytomine's HMAC signature; None: no cost
    if auth is not None:
        middleware.append(Middleware(CytomineAuth, config=auth, cors=cors))
    if settings.tile_fast_path:  # passthrough tiles answered before the stack (fastpath.py)
        middleware.append(Middleware(fast_path(ctx, cors, settings.api_base_path)))
    if cors:
        middleware.append(Middleware(CORSMiddleware, **cors))
    middleware.append(Middleware(CatchAll))
    if settings.api_base_path:  # /ims/image/... as /image/... (Cytomine's convention)
        middleware.append(Middleware(BasePath, prefix=settings.api_base_path))
    middleware.append(Middleware(BodyDeadline, seconds=settings.body_timeout_s))
    app = Starlette(routes=all_routes(), middleware=middleware, exception_handlers=HANDLERS)
    app.state.cytotile = ctx
    return app


def resume_registrations(ctx: Context) -> None:
    """The Cytomine registrations a core that did not answer left to try again (noted by an
    earlier run of the server: ``core_retry.resume_later``), tried again in the background."""
    from cytotile.api.cytomine_core import core_of

    core = core_of(ctx.settings)
    if core is not None:
        from cytotile.importer.core_retry import resume_later

        resume_later(ctx.storage, core)


def serve(settings: ServerSettings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the API and the viewer with uvicorn (blocks until interrupted)."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from cytotile.api.accesslog import AccessLog
    from cytotile.api.head_deadline import protocol_class

    log_config = copy.deepcopy(LOGGING_CONFIG)  # cytotile's lines beside uvicorn's, same format
    log_config["loggers"]["cytotile"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    app: Any = create_app(settings)
    resume_registrations(app.state.cytotile)
    if settings.access_log:  # uvicorn's line, not through logging (api/accesslog.py)
        app = AccessLog(app)
    uvicorn.run(
        app,
        log_config=log_config,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        timeout_keep_alive=settings.keep_alive_s,  # idle keep-alive connections
        # httptools (else h11) with a deadline on request heads; uvloop when installed
        http=protocol_class(settings.head_timeout_s),
        loop="auto",
        timeout_graceful_shutdown=10,
    )
