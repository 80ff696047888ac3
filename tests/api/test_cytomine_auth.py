"""Cytomine's HMAC authentication (issue 9, point 3): signed requests pass, wrong or missing
signatures get 401 JSON, tile URLs stay public and CDN-cacheable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.api.cytomine_auth import AuthConfig, CytomineAuth, parse_keys
from cytotile.errors import BadParameter
from cytotile.settings import ServerSettings
from tests.api.conftest import Images

KEYS = "pub-1:secret-1, pub-2:secret-2"
TILE = "normalized-tile/level/0/ti/0.jpg"


def signature(private: str, text: str) -> str:
    return base64.b64encode(
        hmac.new(private.encode(), text.encode(), hashlib.sha1).digest()
    ).decode()


def signed(
    method: str,
    path: str,
    query: str = "",
    public: str = "pub-2",
    private: str = "secret-2",
    content_type: str = "",
    date: str | None = None,
    question_mark: bool = True,
) -> dict[str, str]:
    """Headers as Cytomine signs a request: METHOD, MD5 (empty), type, date, path?query."""
    date = date if date is not None else formatdate(usegmt=True)
    target = path + ("?" + query if query or question_mark else "")
    text = f"{method}\n\n{content_type}\n{date}\n{target}"
    headers = {"date": date, "authorization": f"CYTOMINE {public}:{signature(private, text)}"}
    if content_type:
        headers["content-type"] = content_type
    return headers


def make(images: Images, **settings: object) -> TestClient:
    base = dict(root=str(images.root), cytomine_keys=KEYS, admin_token="admin")
    return TestClient(create_app(ServerSettings(**{**base, **settings}), images.storage))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def guarded(images: Images) -> Iterator[TestClient]:
    with make(images) as client:
        yield client


def assert_401(response: object) -> None:
    assert response.status_code == 401  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"title", "details"} and body["title"] == "Unauthorized"
    assert response.headers["www-authenticate"].startswith("CYTOMINE")  # type: ignore[attr-defined]


def test_a_signed_export_passes_and_an_unsigned_one_is_refused(
    guarded: TestClient, images: Images
) -> None:
    path = f"/ims/image/{images.rgb.path}/export"
    ok = guarded.get(path, headers=signed("GET", path))
    assert ok.status_code == 200 and ok.content == (images.root / images.rgb.path).read_bytes()
    assert_401(guarded.get(path))
    query = "filename=orig.svs"
    named = guarded.get(f"{path}?{query}", headers=signed("GET", path, query))
    assert named.status_code == 200
    assert_401(guarded.get(f"{path}?{query}", headers=signed("GET", path)))  # query unsigned


def test_wrong_signatures_are_refused(guarded: TestClient, images: Images) -> None:
    path = f"/image/{images.rgb.path}/export"
    assert_401(guarded.get(path, headers=signed("GET", path, private="secret-1")))  # other key's
    assert_401(guarded.get(path, headers=signed("GET", path, public="nobody", private="x")))
    assert_401(guarded.get(path, headers=signed("POST", path)))  # another method signed
    assert_401(guarded.get(path, headers={"authorization": "Bearer admin"}))
    assert_401(guarded.get(path, headers={"authorization": "CYTOMINE pub-2"}))
    stale = formatdate(time.time() - 3600, usegmt=True)  # a replayed signature
    assert_401(guarded.get(path, headers=signed("GET", path, date=stale)))
    assert_401(guarded.get(path, headers=signed("GET", path, date="")))


def test_the_python_clients_form_without_a_query_passes(
    guarded: TestClient, images: Images
) -> None:
    path = f"/file/{images.rgb.upload_id}/export"
    response = guarded.get(path, headers=signed("GET", path, question_mark=False))
    assert response.status_code == 200


def test_a_signed_upload_reaches_the_route_and_passes_the_admin_guard(guarded: TestClient) -> None:
    path, query = "/ims/upload", "idStorage=12&idProject=34,35&keys=k1&values=v1"
    kind = "multipart/form-data; boundary=xyz"
    body = b"--xyz--\r\n"  # a form without a file: the route's own 400, past both guards
    headers = signed("POST", path, query, content_type=kind)
    response = guarded.post(f"{path}?{query}", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert_401(guarded.post(f"{path}?{query}", content=body, headers={"content-type": kind}))
    gone = "/image/upload-none/x.svs"
    not_found = guarded.delete(gone, headers=signed("DELETE", gone))
    assert not_found.status_code == 404
    assert_401(guarded.delete("/image/upload-none/x.svs"))


def test_tiles_stay_public_and_cacheable(guarded: TestClient, images: Images) -> None:
    response = guarded.get(f"/ims/image/{images.rgb.path}/{TILE}")
    assert response.status_code == 200
    assert response.headers.get("x-cytotile-passthrough") == "1"  # the fast path still answers
    cache = response.headers["cache-control"]
    assert "public" in cache and "s-maxage" in cache
    assert "authorization" not in response.headers.get("vary", "").lower()
    region = {"left": 0, "top": 0, "width": 64, "height": 64}
    window = guarded.post(f"/image/{images.rgb.path}/window", json={"region": region})
    assert window.status_code == 200  # image reads by POST are reads: public too


def test_scope_all_protects_every_route_but_ping_and_preflights(images: Images) -> None:
    with make(images, cytomine_auth_scope="all") as client:
        path = f"/image/{images.rgb.path}/{TILE}"
        refused = client.get(path, headers={"origin": "https://viewer.example"})
        assert_401(refused)
        assert refused.headers["access-control-allow-origin"] == "*"  # readable by a browser
        assert client.get(path, headers=signed("GET", path)).status_code == 200
        assert client.get("/ims/ping").status_code == 200
        asking = {"origin": "https://viewer.example", "access-control-request-method": "GET"}
        preflight = client.options(path, headers=asking)
        assert preflight.status_code == 200


def test_nothing_changes_without_keys(images: Images) -> None:
    app = create_app(ServerSettings(root=str(images.root)), images.storage)
    assert not any(m.cls is CytomineAuth for m in app.user_middleware)
    with TestClient(app) as client:
        assert client.get(f"/image/{images.rgb.path}/export").status_code == 200


def test_keys_are_parsed_checked_and_never_shown(images: Images) -> None:
    assert parse_keys(KEYS) == {"pub-1": "secret-1", "pub-2": "secret-2"}
    with pytest.raises(BadParameter):
        parse_keys("no-colon")
    settings = ServerSettings(cytomine_keys=KEYS)
    assert "secret-" not in repr(settings)  # the keys (a field is named cytomine_secret_arn)
    with make(images) as client:
        assert "secret" not in client.get("/info").text
    with pytest.raises(BadParameter):
        AuthConfig.from_settings(ServerSettings(cytomine_keys=KEYS, cytomine_auth_scope="tiles"))
    assert "secret" not in repr(AuthConfig.from_settings(settings))
