"""Cytomine's upload registered in a core as PIMS registers it (issue 9): the user's key asked
of the core, the storage and projects checked as that user, the UploadedFile created (its id
is the core's), then the images created by the import's listener; a fake core on 127.0.0.1
(tests/helpers/fake_core.py) checks every signature and records the calls."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
import pyvips
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.manifest import Manifest
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.fake_core import IMAGE_SERVER_ID, SERVER, USER, USER_ID, Core, running

BOUNDARY = "cytotile-test-boundary"
QUERY = "idStorage=12&idProject=34,35&keys=k1,k2&values=v1,v2"


@pytest.fixture
def core() -> Iterator[Core]:
    with running() as fake:
        yield fake


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def app(core: Core, root: Path, **more: object) -> TestClient:
    settings = ServerSettings(root=str(root), core_url=core.url, core_keys=":".join(SERVER),
                              **more)  # type: ignore[arg-type]  # fmt: skip
    return TestClient(create_app(settings, LocalStorage(root)))


PNG = pyvips.Image.xyz(300, 200)[0].cast("uchar").pngsave_buffer()


def png_form(name: str = "small.png") -> bytes:
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files[]"; '
            f'filename="{name}"\r\nContent-Type: image/png\r\n\r\n')  # fmt: skip
    return head.encode() + PNG + f"\r\n--{BOUNDARY}--\r\n".encode()


def post_upload(client: TestClient, query: str, pair: tuple[str, str] = USER) -> object:
    """``POST /ims/upload?<query>`` signed as Cytomine's clients sign it."""
    kind, date = f"multipart/form-data; boundary={BOUNDARY}", formatdate(usegmt=True)
    text = f"POST\n\n{kind}\n{date}\n/ims/upload?{query}"
    digest = hmac.new(pair[1].encode(), text.encode(), hashlib.sha1).digest()
    signature = base64.b64encode(digest).decode()
    headers = {
        "content-type": kind,
        "date": date,
        "authorization": f"CYTOMINE {pair[0]}:{signature}",
    }
    return client.post(f"/ims/upload?{query}", content=png_form(), headers=headers)


def test_sync_upload_registered_and_answered_with_the_cores_objects(core: Core, root: Path) -> None:
    with app(core, root) as client:
        response = post_upload(client, QUERY + "&sync=true")
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    (item,) = response.json()  # type: ignore[attr-defined]
    # the user's key asked of the core with this server's pair, then the checks as the user
    assert [(c["method"], c["path"], c["signer"]) for c in core.calls[:6]] == [
        ("GET", f"/api/userkey/{USER[0]}/keys.json", SERVER[0]),
        ("GET", "/api/imageserver.json", SERVER[0]),
        ("GET", "/api/user/current.json", USER[0]),
        ("GET", "/api/storage/12.json", USER[0]),
        ("GET", "/api/project/34.json", USER[0]),
        ("GET", "/api/project/35.json", USER[0]),
    ]
    registered = core.calls[6]
    assert (registered["method"], registered["path"]) == ("POST", "/api/uploadedfile.json")
    assert registered["signer"] == USER[0]  # created as the user, as PIMS creates it
    body = registered["body"]
    assert body == {"originalFilename": "small.png", "filename": f"{item['id']}/small.png",
                    "size": len(PNG), "ext": "png",
                    "contentType": "", "projects": [34, 35], "storage": 12, "user": USER_ID,
                    "imageServer": IMAGE_SERVER_ID, "status": 0}  # fmt: skip
    uploaded = item["uploadedFile"]
    assert isinstance(uploaded["id"], int) and uploaded["status"] == 100  # the core's, fetched
    assert core.calls[-1]["path"] == f"/api/uploadedfile/{uploaded['id']}.json"
    (image,) = item["images"]
    assert image["image"]["uploadedFile"] == uploaded["id"] and image["image"]["width"] == 300
    projects = [i["project"] for i in image["imageInstances"]]
    assert projects == [34, 35] and image["path"] == f"{item['id']}/small.png"
    manifest = Manifest.load(LocalStorage(root), item["id"])
    assert manifest.source["cytomine"]["uploadedFile"] == uploaded["id"]
    user_props = [p for c in core.of("POST", "property") for p in c["body"] if p["key"] == "k1"]
    assert user_props and user_props[0]["value"] == "v1"


def test_async_upload_answers_the_registered_file_then_imports(core: Core, root: Path) -> None:
    with app(core, root) as client:
        response = post_upload(client, QUERY)
        (item,) = response.json()  # type: ignore[attr-defined]
        uploaded = item["uploadedFile"]
        assert uploaded["status"] == 0 and item["images"] == []  # PIMS's immediate answer
        # the test client returns once the background import has run
        statuses = [c["body"]["status"] for c in core.of("PUT", rf"uploadedfile/{uploaded['id']}")]
        assert statuses[-1] == 100
        assert len(core.of("POST", r"imageinstance\.json")) == 2
        tile = client.get(f"/ims/image/{item['path']}/normalized-tile/zoom/0/ti/0")
        assert tile.status_code == 200


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [("idStorage=99", 400, "Storage 99 not found"),
     ("idStorage=12&idProject=77", 400, "Project 77 not found")],
)  # fmt: skip
def test_a_storage_or_project_the_core_lacks_is_refused(
    core: Core, root: Path, query: str, status: int, detail: str
) -> None:
    with app(core, root) as client:
        response = post_upload(client, query)
    assert response.status_code == status  # type: ignore[attr-defined]
    assert detail in response.json()["details"]  # type: ignore[attr-defined]
    assert not core.of("POST") and not list(root.glob("upload-*"))


def test_an_image_server_unknown_to_the_core_is_refused(core: Core, root: Path) -> None:
    with app(core, root, core_image_server_url="https://elsewhere") as client:
        response = post_upload(client, QUERY)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "https://elsewhere" in response.json()["details"]  # type: ignore[attr-defined]


def test_a_core_gone_after_the_signature_check_is_a_502(core: Core, root: Path) -> None:
    keys = ":".join(USER)  # the user's key configured: no need to ask the core for it
    with app(core, root, cytomine_keys=keys) as client:
        core.refuse[r"^imageserver"] = 503
        response = post_upload(client, QUERY)
    assert response.status_code == 400  # type: ignore[attr-defined]
    settings = ServerSettings(root=str(root), core_url="http://127.0.0.1:9/api",
                              core_keys=":".join(SERVER), cytomine_keys=keys)  # fmt: skip
    with TestClient(create_app(settings, LocalStorage(root))) as client:
        response = post_upload(client, QUERY)
    assert response.status_code == 502  # type: ignore[attr-defined]
    assert "could not be asked" in response.json()["details"]  # type: ignore[attr-defined]


def test_without_cytomine_fields_the_core_is_not_called(core: Core, root: Path) -> None:
    with app(core, root) as client:
        response = post_upload(client, "sync=true")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert [c["path"] for c in core.calls] == [f"/api/userkey/{USER[0]}/keys.json"]


def test_nothing_is_registered_where_the_import_is_not_installed(
    core: Core, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cytotile.importer.flow", None)  # as on TileFunction
    with app(core, root) as client:
        response = post_upload(client, QUERY)
    assert response.status_code == 501  # type: ignore[attr-defined]
    assert not core.of("POST")


def test_a_core_down_at_the_end_gets_the_image_on_a_later_try(
    core: Core, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local server has no message delivered again: it tries the registration again itself
    (core_retry.RETRY_DELAYS_S), until the core has the image, created once."""
    import time

    from cytotile.importer import core_retry

    monkeypatch.setattr(core_retry, "RETRY_DELAYS_S", (0.2, 0.2, 0.2, 0.2))
    core.refuse[r"^abstractimage"] = 503
    with app(core, root) as client:
        response = post_upload(client, QUERY + "&sync=true")
    (item,) = response.json()  # type: ignore[attr-defined]
    assert Manifest.load(LocalStorage(root), item["id"]).status.value == "DEPLOYED"
    assert not core.done("POST", r"abstractimage\.json")
    core.refuse.clear()  # the core is back
    deadline = time.monotonic() + 10
    while len(core.done("POST", r"imageinstance\.json")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(core.done("POST", r"abstractimage\.json")) == 1
    assert sorted(c["body"]["project"] for c in core.done("POST", r"imageinstance\.json")) == [
        34,
        35,
    ]
    uploaded = core.objects["uploadedfile"][item["uploadedFile"]["id"]]
    assert uploaded["status"] == 100  # DEPLOYED again after the ERROR_DEPLOYMENT it was told


def wait_for(check: object, seconds: float = 10) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)
    return bool(check())  # type: ignore[operator]


def test_a_restart_resumes_the_registrations_left_to_try(
    core: Core, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tries left are noted in the storage (core_retry.PENDING): a server started again
    (app.resume_registrations, as ``cytotile serve`` calls it) tries them again, and forgets
    each once the core has the image."""
    from cytotile.api.app import resume_registrations
    from cytotile.importer import core_retry

    storage = LocalStorage(root)
    monkeypatch.setattr(core_retry, "RETRY_DELAYS_S", (3600.0,))  # the first run's: too late
    core.refuse[r"^abstractimage"] = 503
    with app(core, root) as client:
        (item,) = post_upload(client, QUERY + "&sync=true").json()  # type: ignore[attr-defined]
    pending = f"{core_retry.PENDING}{item['id']}.json"
    assert storage.exists(pending)  # noted before the first try
    assert not core.done("POST", r"abstractimage\.json")
    core.refuse.clear()  # the core is back; the server restarts
    monkeypatch.setattr(core_retry, "RETRY_DELAYS_S", (0.05, 0.05))
    settings = ServerSettings(root=str(root), core_url=core.url, core_keys=":".join(SERVER))
    resume_registrations(create_app(settings, storage).state.cytotile)
    assert wait_for(lambda: not storage.exists(pending))
    assert len(core.done("POST", r"abstractimage\.json")) == 1
    instances = sorted(c["body"]["project"] for c in core.done("POST", r"imageinstance\.json"))
    assert instances == [34, 35]
    assert core.objects["uploadedfile"][item["uploadedFile"]["id"]]["status"] == 100
    props = [p["key"] for c in core.done("POST", "property") for p in c["body"]]
    assert props.count("k1") == props.count("k2") == 1  # the upload's own keys, recorded


def test_a_pending_registration_of_an_upload_gone_is_forgotten(
    core: Core, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytotile.cytomine_core import CoreClient
    from cytotile.importer import core_retry

    storage = LocalStorage(root)
    storage.write_bytes(f"{core_retry.PENDING}upload-gone.json", b"{}")
    monkeypatch.setattr(core_retry, "RETRY_DELAYS_S", (0.01,))
    client = CoreClient.from_settings(core.url, ":".join(SERVER))
    (thread,) = core_retry.resume_later(storage, client)
    thread.join(10)
    assert not storage.exists(f"{core_retry.PENDING}upload-gone.json")
    assert not [c for c in core.calls if c["method"] != "GET"]


def test_a_core_still_down_keeps_the_registration_for_the_next_start(
    core: Core, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytotile.importer import core_retry

    storage = LocalStorage(root)
    monkeypatch.setattr(core_retry, "RETRY_DELAYS_S", (0.01, 0.01))
    core.refuse[r"^abstractimage"] = 503
    with app(core, root) as client:
        (item,) = post_upload(client, QUERY + "&sync=true").json()  # type: ignore[attr-defined]
    pending = f"{core_retry.PENDING}{item['id']}.json"
    assert wait_for(lambda: len(core.of("POST", r"abstractimage\.json")) >= 3)  # all 3 tries
    import time

    time.sleep(0.2)
    assert storage.exists(pending)  # kept: the next start tries again
    assert not core.done("POST", r"abstractimage\.json")
