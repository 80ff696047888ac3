"""DELETE acts only on an image's own path; nothing past ``upload-<id>/`` but the upload's image
name is an image path; writes need the admin token when the server has one."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from cytotile.manifest import Manifest
from tests.helpers.deployed import deploy, grey_source
from tests.reliability.conftest import ClientFactory, Root

SUB_PATHS = [
    "normalized-tile/zoom/0/ti/0",
    "normalized-tile/level/0/tx/0/ty/0.jpg",
    "thumb.png",
    "info",
    "info/image",
    "histograms/c/0",
    "metadata",
    "window",
]


def _survives(root: Root, upload_id: str) -> bool:
    return Manifest.load(root.storage, upload_id).id == upload_id and any(
        key.startswith(f"{upload_id}/processed/") for key in root.storage.list(upload_id)
    )


@pytest.mark.parametrize("route", ["image", "file"])
def test_delete_of_a_sub_path_deletes_nothing(client: TestClient, root: Root, route: str) -> None:
    image = deploy(root.storage, grey_source(64, 64), "victim.png")
    paths = [f"{image.path}/{sub}" for sub in SUB_PATHS]
    paths += [
        f"{image.upload_id}/manifest.json",
        f"{image.upload_id}/manifest.json/info",
        f"{image.upload_id}/processed/visualisation.PYRTIFF",
        f"{image.upload_id}/other-name.png",
    ]
    for path in paths:
        response = client.delete(f"/{route}/{path}")
        assert response.status_code in (404, 405), (path, response.status_code, response.text)
        assert set(response.json()) >= {"title", "details"}
        assert _survives(root, image.upload_id), path
    assert client.delete(f"/{route}/{image.path}").status_code == 204
    assert client.get(f"/image/{image.path}/info").status_code == 404


def test_delete_of_the_folder(client: TestClient, root: Root) -> None:
    image = deploy(root.storage, grey_source(64, 64), "folder.png")
    assert client.delete(f"/image/{image.upload_id}").status_code == 204
    assert not list(root.storage.list(image.upload_id))


def test_only_the_image_name_is_an_image_path(client: TestClient, root: Root) -> None:
    rgb = root.rgb
    assert client.get(f"/image/{rgb.path}/info/image").status_code == 200
    assert client.get(f"/image/{rgb.upload_id}/info/image").status_code == 200
    assert client.get(f"/image/{rgb.path}/normalized-tile/zoom/0/ti/0").status_code == 200
    for bad in ("manifest.json", "processed/visualisation.PYRTIFF", "other.svs", "slide one"):
        for suffix in ("info/image", "normalized-tile/zoom/0/ti/0", "thumb", "metadata"):
            response = client.get(f"/image/{rgb.upload_id}/{bad}/{suffix}")
            assert response.status_code == 404, (bad, suffix, response.status_code)
        for url in (f"/iiif/3/{rgb.upload_id}/{bad}/info.json", f"/dzi/{rgb.upload_id}/{bad}.dzi"):
            assert client.get(url).status_code == 404, url
    assert client.get(f"/iiif/3/{rgb.path.replace('/', '%2F')}/info.json").status_code == 200
    assert client.get(f"/dzi/{rgb.path}.dzi").status_code == 200


def test_writes_need_the_admin_token(
    make_client: ClientFactory, root: Root, caplog: pytest.LogCaptureFixture
) -> None:
    token = "s3cret-t0ken-value"
    client = make_client(admin_token=token)
    image = deploy(root.storage, grey_source(64, 64), "guarded.png")
    caplog.set_level(logging.DEBUG)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {token}"}):
        response = client.delete(f"/image/{image.path}", headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert _survives(root, image.upload_id)
    assert client.post("/upload", files={"file": ("a.png", b"x")}).status_code == 401
    assert client.post("/upload/presigned", json={"filename": "a", "size": 1}).status_code == 401
    assert client.get(f"/image/{image.path}/info/image").status_code == 200  # reads stay open
    ok = client.delete(f"/image/{image.path}", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 204
    assert token not in caplog.text
