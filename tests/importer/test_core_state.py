"""Issue 9: a retried import registers its upload in the Cytomine core exactly once. Whatever
registration call an attempt stops at, the next attempt (a new listener, as SQS's redelivery
builds it, or the same one, as a local retry keeps it) creates only what is missing; a finished
import imported again sends nothing. Against the fake core (tests/helpers/fake_core.py)."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cytotile.cytomine_core import CoreClient
from cytotile.importer import core_models
from cytotile.importer.core_callback import CytomineListener
from cytotile.importer.events import ImportEvent
from cytotile.importer.flow import import_file
from cytotile.manifest import Manifest, Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.fake_core import SERVER, Core, running
from tests.helpers.synth import tissue

SETTINGS = ImportSettings(timeout_s=60, memory_mb=2048)
UPLOAD = "upload-r1"
#: the events of an import that ends DEPLOYED, as the flow emits them to the listener
EVENTS = [("DETECTING_FORMAT", "start"), ("EXTRACTING_DATA", "start"), ("CONVERTING", "start"),
          ("DEPLOYING", "start"), ("DEPLOYED", "end")]  # fmt: skip


class Crash(Exception):
    """The attempt dies (the Lambda is killed, the process stops) before this call is sent."""


@dataclasses.dataclass(frozen=True)
class Crashing(CoreClient):
    """A client that lets ``left[0]`` calls that change the core through, then crashes."""

    left: list[int] = dataclasses.field(default_factory=lambda: [10**6])

    def call(self, method: str, uri: str, body: Any = None) -> Any:
        if method != "GET":
            if self.left[0] <= 0:
                raise Crash(f"{method} {uri}")
            self.left[0] -= 1
        return super().call(method, uri, body)


@pytest.fixture
def core() -> Iterator[Core]:
    with running() as fake:
        yield fake


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An upload as the flow leaves it at its DEPLOYED event (imported once, no core): a stack
    of 3 z planes in its metadata, for more than one chunk of slices."""
    root = tmp_path_factory.mktemp("deployed")
    src = root / "slide.png"
    tissue(160, 120).pngsave(str(src))
    storage = LocalStorage(root / "store")
    manifest = import_file(storage, src, settings=SETTINGS, upload_id=UPLOAD)
    assert manifest.status is Status.DEPLOYED, manifest.reason
    manifest.image = {**(manifest.image or {}), "depth": 3}
    manifest.save(storage)
    return root / "store"


def root_uf(core: Core, client: CoreClient) -> dict[str, Any]:
    body = {"originalFilename": "slide.png", "filename": f"{UPLOAD}/slide.png", "size": 1,
            "storage": 12, "user": 61, "imageServer": 7, "projects": [34, 35],
            "status": 0}  # fmt: skip
    uf = client.saved("POST", "uploadedfile.json", body, "uploadedfile")
    core.calls.clear()
    return uf


def listener(client: CoreClient, storage: LocalStorage, uf: dict[str, Any]) -> CytomineListener:
    return CytomineListener(client, storage, UPLOAD, uf, (34, 35), (("k1", "v1"), ("k2", "v2")))


def replay(hearer: CytomineListener) -> None:
    for step, phase in EVENTS:
        hearer(ImportEvent(UPLOAD, step, phase))


def expected(storage: LocalStorage) -> tuple[int, set[str]]:
    """How many slices, and which property keys, the upload's image has."""
    image = Manifest.load(storage, UPLOAD).image or {}
    pairs = [*(image.get("raw_metadata") or {}).items(), ("k1", "v1"), ("k2", "v2")]
    keys = {p["key"] for p in core_models.properties({"id": 0}, pairs)}
    return len(core_models.abstract_slices(image, 0, 0)), keys


def check_once(core: Core, uf_id: int, storage: LocalStorage) -> None:
    """Every record of the upload created exactly once, and complete."""
    n_slices, keys = expected(storage)
    (pyramid,) = [c["body"] for c in core.done("POST", r"/uploadedfile\.json")]
    assert pyramid["parent"] == uf_id
    (ai_id,) = core.objects["abstractimage"]
    (pyramid_id,) = [i for i, f in core.objects["uploadedfile"].items() if f.get("parent")]
    assert core.objects["uploadedfile"][pyramid_id]["status"] == 104
    slices = [(s["channel"], s["zStack"], s["time"])
              for c in core.done("POST", r"abstractslice\.json") for s in c["body"]]  # fmt: skip
    assert sorted(slices) == sorted(set(slices)) and len(slices) == n_slices
    props = Counter((p["domainIdent"], p["key"])
                    for c in core.done("POST", r"property\.json") for p in c["body"])  # fmt: skip
    assert max(props.values()) == 1 and {k for _, k in props} == keys
    assert {i for i, _ in props} == {ai_id}
    instances = sorted(c["body"]["project"] for c in core.done("POST", r"imageinstance\.json"))
    assert instances == [34, 35]
    codes = [c["body"]["status"] for c in core.done("PUT", rf"uploadedfile/{uf_id}\.json")]
    assert codes[-1] == 100 and core.objects["uploadedfile"][uf_id]["status"] == 100
    steps = [c for c in codes if c in (10, 20, 30, 40)]
    assert steps == [10, 20, 30, 40]  # each step's code once


def test_a_retry_after_a_crash_at_each_registration_call_creates_each_record_once(
    deployed: Path, tmp_path: Path, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core_models, "chunks", lambda items, size=2: [
        items[i : i + size] for i in range(0, len(items), size)])  # fmt: skip
    crashed_at, stop = 0, False
    while not stop:  # crash before the 1st, 2nd, ... call that changes the core, until none
        store = tmp_path / f"at-{crashed_at}"
        shutil.copytree(deployed, store)
        storage = LocalStorage(store)
        core.objects.clear()  # a core of its own each time
        base = Crashing.from_settings(core.url, ":".join(SERVER))
        uf = root_uf(core, base)
        first = listener(dataclasses.replace(base, left=[crashed_at]), storage, uf)
        try:
            replay(first)
            stop = True  # the attempt ran to its end: every call was crashed at before
        except Crash:
            pass
        again = base.get(f"uploadedfile/{uf['id']}.json")  # the redelivery's listener
        replay(listener(base, storage, again))
        check_once(core, uf["id"], storage)
        crashed_at += 1
    assert expected(storage)[0] == 3  # slices in 2 chunks of 2 (and properties in several)
    assert crashed_at > 12  # statuses, pyramid, image, slices, properties, instances


def test_a_retry_after_a_lost_answer_at_each_registration_call_creates_each_record_once(
    deployed: Path, tmp_path: Path, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core carries a call out but its answer never comes (the connection cut): the
    record the call created is looked up by the retry, not made again."""
    monkeypatch.setattr(core_models, "chunks", lambda items, size=2: [
        items[i : i + size] for i in range(0, len(items), size)])  # fmt: skip
    lost_at = 0
    while True:  # the answer of the 1st, 2nd, ... call that changes the core lost
        store = tmp_path / f"at-{lost_at}"
        shutil.copytree(deployed, store)
        storage = LocalStorage(store)
        core.objects.clear()
        client = CoreClient.from_settings(core.url, ":".join(SERVER))
        uf = root_uf(core, client)
        core.changes, core.lose_at = 0, lost_at
        replay(listener(client, storage, uf))
        if not [c for c in core.calls if c.get("lost")]:
            break  # fewer calls than that: every one's answer was lost in turn
        core.lose_at = None
        again = client.get(f"uploadedfile/{uf['id']}.json")  # the redelivery's listener
        replay(listener(client, storage, again))
        check_once(core, uf["id"], storage)
        lost_at += 1
    assert lost_at > 12  # statuses, pyramid, image, slices, properties, instances


def test_a_retry_with_the_same_listener_creates_each_record_once(
    deployed: Path, tmp_path: Path, core: Core
) -> None:
    shutil.copytree(deployed, tmp_path / "store")
    storage = LocalStorage(tmp_path / "store")
    client = CoreClient.from_settings(core.url, ":".join(SERVER))
    uf = root_uf(core, client)
    core.refuse[r"^imageinstance\.json"] = 503  # the core fails at the instances, then not
    hearer = listener(client, storage, uf)
    replay(hearer)
    assert core.objects["uploadedfile"][uf["id"]]["status"] == 41  # ERROR_DEPLOYMENT there
    core.refuse.clear()
    replay(hearer)
    check_once(core, uf["id"], storage)
    assert [len(i["imageInstances"]) for i in hearer.images] == [2]


class Failing(LocalStorage):
    """A storage that is down for a moment (until ``fail`` is cleared): the pyramid's upload
    fails, or the manifest's saves as DEPLOYED (the flow's last, after the DEPLOYED event, so
    after the core's registration)."""

    def __init__(self, root: Path, fail: str) -> None:
        super().__init__(root)
        self.fail = fail

    def upload_file(self, key: str, local_path: Path) -> None:
        if self.fail == "pyramid" and key.endswith("visualisation.PYRTIFF"):
            self.fail = ""
            raise OSError("storage unavailable (test)")
        super().upload_file(key, local_path)

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        if self.fail == "last save" and key.endswith("manifest.json") and b'"DEPLOYED"' in data:
            raise OSError("storage unavailable (test)")
        super().write_bytes(key, data, content_type)


@pytest.mark.parametrize(
    ("fail", "refused"),
    [("pyramid", None), ("last save", None), ("last save", r"^abstractslice"),
     ("last save", r"^imageinstance"), ("last save", r"property\.json")],
)  # fmt: skip
def test_a_local_retry_of_the_flow_registers_once(
    tmp_path: Path, core: Core, fail: str, refused: str | None
) -> None:
    src = tmp_path / "slide.png"
    tissue(160, 120).pngsave(str(src))
    storage = Failing(tmp_path / "root", fail)
    client = CoreClient.from_settings(core.url, ":".join(SERVER))
    uf = root_uf(core, client)
    if refused:
        core.refuse[refused] = 503  # the core fails at that step too, in the first attempt
    with pytest.raises(Exception, match="storage unavailable"):
        import_file(storage, src, settings=SETTINGS, upload_id=UPLOAD, raise_retryable=True,
                    listeners=[listener(client, storage, uf)])  # fmt: skip
    core.refuse.clear()
    storage.fail = ""
    fresh = client.get(f"uploadedfile/{uf['id']}.json")  # the retry's own listener
    manifest = import_file(
        storage,
        src,
        settings=SETTINGS,
        upload_id=UPLOAD,
        raise_retryable=True,
        listeners=[listener(client, storage, fresh)],
    )
    assert manifest.status is Status.DEPLOYED, manifest.reason
    check_once(core, uf["id"], storage)
    before = len(core.calls)  # imported again once finished: nothing sent
    import_file(
        storage,
        src,
        settings=SETTINGS,
        upload_id=UPLOAD,
        raise_retryable=True,
        listeners=[listener(client, storage, client.get(f"uploadedfile/{uf['id']}.json"))],
    )
    assert len(core.calls) == before + 1  # the test's own GET of the UploadedFile


def one_member_archive(
    tmp_path: Path, core: Core
) -> tuple[Path, LocalStorage, CoreClient, dict[str, Any]]:
    """A zip of one image, a storage, a client of the core and the archive's UploadedFile."""
    import zipfile

    src = tmp_path / "two.zip"
    with zipfile.ZipFile(src, "w") as archive:
        archive.writestr("a.png", tissue(120, 80).pngsave_buffer())
    client = CoreClient.from_settings(core.url, ":".join(SERVER))
    return src, LocalStorage(tmp_path / "root"), client, root_uf(core, client)


def test_an_archive_members_records_are_not_created_again(tmp_path: Path, core: Core) -> None:
    """A member imported in its own delivery (the import queue) and delivered again: the new
    listener (of the archive's UploadedFile) finds the member's UploadedFile and image."""
    src, storage, client, uf = one_member_archive(tmp_path, core)
    manifest = import_file(storage, src, settings=SETTINGS, upload_id=UPLOAD,
                           listeners=[listener(client, storage, uf)])  # fmt: skip
    assert manifest.status is Status.EXTRACTED, manifest.reason
    (member,) = [c["id"] for c in manifest.children]
    made = len(core.done("POST"))
    assert made > 0 and Manifest.load(storage, member).status is Status.DEPLOYED
    again = listener(client, storage, client.get(f"uploadedfile/{uf['id']}.json"))
    replay_of = [ImportEvent(member, step, phase) for step, phase in EVENTS]
    for event in replay_of:
        again(event)
    assert len(core.done("POST")) == made  # no second member, pyramid, image or instance
    assert [len(i["imageInstances"]) for i in again.images] == [2]


def test_an_archive_members_file_whose_answer_was_lost_is_found_not_made_again(
    tmp_path: Path, core: Core
) -> None:
    """The member's ``UploadedFile`` created, its answer lost: the member's next event finds
    it under the archive's by its file name, and its image is registered against it; a
    redelivery makes nothing more."""
    src, storage, client, uf = one_member_archive(tmp_path, core)
    core.lose_if = lambda call: call["method"] == "POST" and str(
        (call["body"] or {}).get("filename", "")).endswith("/a.png")  # fmt: skip
    manifest = import_file(storage, src, settings=SETTINGS, upload_id=UPLOAD,
                           listeners=[listener(client, storage, uf)])  # fmt: skip
    (member,) = [c["id"] for c in manifest.children]
    assert [c for c in core.calls if c.get("lost")]  # the member's UploadedFile, made
    files = [f for f in core.objects["uploadedfile"].values() if f["filename"].endswith("/a.png")]
    assert len(files) == 1  # found, not made again
    (image,) = core.objects["abstractimage"].values()
    assert image["uploadedFile"] == files[0]["id"]
    assert core.objects["uploadedfile"][files[0]["id"]]["status"] == 100  # DEPLOYED
    made = len(core.done("POST"))
    again = listener(client, storage, client.get(f"uploadedfile/{uf['id']}.json"))
    for step, phase in EVENTS:
        again(ImportEvent(member, step, phase))
    assert len(core.done("POST")) == made
    assert [len(i["imageInstances"]) for i in again.images] == [2]
