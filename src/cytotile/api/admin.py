"""Access control of destructive routes: with ``CYTOTILE_ADMIN_TOKEN`` set, DELETE and the
other writes need ``Authorization: Bearer <token>``. The token is compared in constant time and
never logged or echoed. A request signed with one of Cytomine's keys (``CYTOTILE_CYTOMINE_KEYS``,
:mod:`cytotile.api.cytomine_auth`) passes too: Cytomine's header takes the place of the token."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from cytotile.api.cytomine_auth import VERIFIED
from cytotile.api.errors import Unauthorized


def require_admin(request: Request) -> None:
    token = request.app.state.cytotile.settings.admin_token
    if not token or request.scope.get(VERIFIED):  # a Cytomine-signed request (cytomine_auth)
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("this server needs Authorization: Bearer <admin token> for writes")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("the bearer token is not this server's admin token")
