"""Archives in the upload list and in POST /upload's answer: an archive lists its children with
their current statuses (read from each child's manifest), each child names its parent."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.importer.archives import child_upload_id
from cytotile.manifest import Manifest, Status
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.importer import archive_builders as build


def client_on(root: Path) -> TestClient:
    storage = LocalStorage(root)
    return TestClient(create_app(ServerSettings(root=str(root)), storage))


def test_list_shows_children_with_their_current_status(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    parent = Manifest(id="upload-archive", original_name="batch.zip", status=Status.EXTRACTED)
    paths = ["a.png", "b/c.jpg", "d.png"]
    ids = [child_upload_id(parent.id, p) for p in paths]
    parent.children = [
        {"id": i, "name": p.rsplit("/", 1)[-1], "path": p, "size": 10, "status": "UPLOADED"}
        for i, p in zip(ids, paths, strict=True)
    ]
    parent.save(storage)
    Manifest(id=ids[0], original_name="a.png", status=Status.DEPLOYED, parent=parent.id,
             image={"width": 4, "height": 3}).save(storage)  # fmt: skip
    Manifest(id=ids[1], original_name="c.jpg", status=Status.ERROR_FORMAT, parent=parent.id,
             reason="not an image").save(storage)  # fmt: skip
    # the third is still waiting in the queue: no manifest of its own yet

    with client_on(tmp_path) as client:
        listed = {item["id"]: item for item in client.get("/uploads").json()}
    assert set(listed) == {parent.id, ids[0], ids[1]}
    archive = listed[parent.id]
    assert archive["status"] == "EXTRACTED" and archive["parent"] is None
    assert [(c["path"], c["status"]) for c in archive["children"]] == [
        ("a.png", "DEPLOYED"),
        ("b/c.jpg", "ERROR_FORMAT"),
        ("d.png", "UPLOADED"),
    ]
    assert archive["children"][1]["reason"] == "not an image"
    assert listed[ids[0]]["parent"] == parent.id and listed[ids[0]]["children"] == []


def test_post_upload_of_a_zip(tmp_path: Path) -> None:
    archive = build.write_zip(
        tmp_path / "two.zip", {"a.png": build.png(1, 64, 48), "b.png": build.png(2, 32, 16)}
    )
    root = tmp_path / "root"
    with client_on(root) as client:
        answer = client.post("/upload", files={"file": ("two.zip", archive.read_bytes())})
        assert answer.status_code == 200, answer.text
        (item,) = answer.json()
        assert item["status"] == "EXTRACTED"
        assert [c["status"] for c in item["children"]] == ["DEPLOYED", "DEPLOYED"]
        assert sorted((i["width"], i["height"]) for i in item["images"]) == [(32, 16), (64, 48)]
        assert len(client.get("/uploads").json()) == 3
