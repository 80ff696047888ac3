"""Users' keys asked of the Cytomine core (issue 9): a request signed by any Cytomine user is
checked with the private key the core gives for its public key (asked with this server's key
pair, kept a while); a core that cannot tell is a 401 with the reason, never a 500."""

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
from cytotile.api.cytomine_keys import CoreKeys, KeyLookupError
from cytotile.cytomine_core import CoreClient
from cytotile.settings import ServerSettings
from tests.api.conftest import Images
from tests.helpers.fake_core import SERVER, USER, Core, running


@pytest.fixture
def core() -> Iterator[Core]:
    with running() as fake:
        yield fake


def signed(path: str, pair: tuple[str, str] = USER) -> dict[str, str]:
    date = formatdate(usegmt=True)
    digest = hmac.new(pair[1].encode(), f"GET\n\n\n{date}\n{path}?".encode(), hashlib.sha1)
    signature = base64.b64encode(digest.digest()).decode()
    return {"date": date, "authorization": f"CYTOMINE {pair[0]}:{signature}"}


def client(images: Images, core_url: str, **more: object) -> TestClient:
    settings = ServerSettings(root=str(images.root), core_url=core_url,
                              core_keys=":".join(SERVER), **more)  # type: ignore[arg-type]  # fmt: skip
    return TestClient(create_app(settings, images.storage))


def lookups(core: Core) -> list[str]:
    return [c["path"] for c in core.of("GET", r"/api/userkey/")]


def test_a_users_key_is_asked_of_the_core_once_then_kept(images: Images, core: Core) -> None:
    path = f"/image/{images.rgb.path}/export"
    with client(images, core.url) as api:
        first = api.get(path, headers=signed(path))
        second = api.get(path, headers=signed(path))
    assert first.status_code == second.status_code == 200, first.text
    assert lookups(core) == [f"/api/userkey/{USER[0]}/keys.json"]  # once: cached
    assert core.calls[0]["signer"] == SERVER[0]  # asked with this server's key pair
    with client(images, core.url) as api:
        wrong = api.get(path, headers=signed(path, (USER[0], "not-the-private-key")))
    assert wrong.status_code == 401 and "does not match" in wrong.json()["details"]


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [(None, "knows no such public key"), (403, "refused this server's key pair"),
     (500, "could not be asked")],
)  # fmt: skip
def test_a_key_the_core_cannot_give_is_a_401_with_the_reason(
    images: Images, core: Core, refusal: int | None, reason: str
) -> None:
    if refusal is not None:
        core.refuse[r"^userkey/"] = refusal
    path = f"/image/{images.rgb.path}/export"
    with client(images, core.url) as api:
        response = api.get(path, headers=signed(path, ("someone", "secret")))
    assert response.status_code == 401
    assert set(response.json()) == {"title", "details"} and reason in response.json()["details"]
    assert response.headers["www-authenticate"].startswith("CYTOMINE")


def test_a_core_that_is_down_is_a_401_not_a_500(images: Images) -> None:
    path = f"/image/{images.rgb.path}/export"
    with client(images, "http://127.0.0.1:9/api") as api:
        response = api.get(path, headers=signed(path))
        configured = api.get(path, headers=signed(path, ("pub-1", "secret-1")))
    assert response.status_code == 401 and "could not be asked" in response.json()["details"]
    assert configured.status_code == 401  # no configured key either
    with client(images, "http://127.0.0.1:9/api", cytomine_keys="pub-1:secret-1") as api:
        assert api.get(path, headers=signed(path, ("pub-1", "secret-1"))).status_code == 200


def test_kept_answers_expire(core: Core) -> None:
    keys = CoreKeys(CoreClient.from_settings(core.url, ":".join(SERVER)), ttl_s=0.05)
    assert keys.private_key(USER[0]) == USER[1]
    assert keys.private_key(USER[0]) == USER[1]
    assert len(lookups(core)) == 1
    time.sleep(0.1)
    assert keys.private_key(USER[0]) == USER[1]
    assert len(lookups(core)) == 2
    with pytest.raises(KeyLookupError):
        keys.private_key("nobody")
    with pytest.raises(KeyLookupError):
        keys.private_key("nobody")  # an unknown key is kept too (at least 5 s)
    assert len(lookups(core)) == 3
    assert USER[1] not in repr(keys) and SERVER[1] not in repr(keys)


def test_tiles_stay_public_with_a_core(images: Images, core: Core) -> None:
    with client(images, core.url) as api:
        tile = api.get(f"/image/{images.rgb.path}/normalized-tile/level/0/ti/0.jpg")
    assert tile.status_code == 200 and not core.calls
