"""TileFunction: the PIMS-compatible HTTP API (cytotile.api) behind API Gateway, via Mangum.

The app (settings from CYTOTILE_*, its S3 client) is created at the first request: importing
this module reads no environment and opens nothing.
"""

from typing import Any

from mangum import Mangum

from cytotile.api.app import create_app
from cytotile.settings import ServerSettings, from_env

_handler: list[Mangum] = []  # the app, once created


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not _handler:
        _handler.append(Mangum(create_app(from_env(ServerSettings)), lifespan="off"))
    return _handler[0](event, context)
