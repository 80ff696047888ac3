"""The viewer: ``GET /`` serves ``static/index.html``; ``/static`` serves its assets."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from cytotile.errors import NotFound

STATIC = Path(__file__).parent / "static"


async def index(request: Request) -> Response:
    page = STATIC / "index.html"
    if not page.is_file():
        raise NotFound("the viewer is not installed (no static/index.html)")
    return FileResponse(page, headers={"Cache-Control": "no-cache"})


def routes() -> list[BaseRoute]:
    return [
        Route("/", index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC, check_dir=False), name="static"),
    ]
