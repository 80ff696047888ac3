"""The Cytomine listener (issue 9): during an import, the core's UploadedFile follows the steps
and the image is created there as PIMS's CytomineListener creates it; checked against a fake
core on 127.0.0.1 (tests/helpers/fake_core.py) that verifies each call's signature."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cytotile.cytomine_core import CoreClient
from cytotile.importer import core_models
from cytotile.importer.core_callback import CytomineListener
from cytotile.importer.flow import import_file
from cytotile.manifest import Status
from cytotile.settings import ImportSettings
from cytotile.storage.local import LocalStorage
from tests.helpers.fake_core import AI_CLASS, SERVER, Core, running
from tests.helpers.synth import tissue

SETTINGS = ImportSettings(timeout_s=60, memory_mb=2048)


@pytest.fixture
def core() -> Iterator[Core]:
    with running() as fake:
        yield fake


def listener(core: Core, storage: LocalStorage, upload_id: str) -> CytomineListener:
    """What the upload route builds: the UploadedFile registered first (status 0)."""
    client = CoreClient.from_settings(core.url, ":".join(SERVER))
    body = {"originalFilename": "slide.tif", "filename": f"{upload_id}/slide.tif", "size": 1,
            "storage": 12, "user": 61, "imageServer": 7, "projects": [34, 35],
            "status": 0}  # fmt: skip
    uf = client.saved("POST", "uploadedfile.json", body, "uploadedfile")
    core.calls.clear()
    return CytomineListener(client, storage, upload_id, uf, (34, 35), (("k1", "v1"), ("k2", "")))


def run(tmp_path: Path, core: Core, source: Path) -> tuple[Any, CytomineListener]:
    storage = LocalStorage(tmp_path / "root")
    hearer = listener(core, storage, "upload-1")
    manifest = import_file(storage, source, settings=SETTINGS, upload_id="upload-1",
                           listeners=[hearer])  # fmt: skip
    return manifest, hearer


def test_an_import_registers_its_image_in_the_core(tmp_path: Path, core: Core) -> None:
    src = tmp_path / "slide.tif"
    tissue(400, 300).tiffsave(str(src), tile=True, compression="jpeg", xres=4.0, yres=4.0)
    manifest, hearer = run(tmp_path, core, src)
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert core.calls and all(c["signer"] == SERVER[0] for c in core.calls)
    uf_id = hearer.uploaded_file["id"]
    puts = [c["body"]["status"] for c in core.of("PUT", rf"uploadedfile/{uf_id}\.json")]
    assert puts == [10, 20, 30, 40, 100]  # each step once, then DEPLOYED
    # the serving pyramid: a child UploadedFile, CONVERTING, then CONVERTED with its size
    (child,) = [c["body"] for c in core.of("POST", r"/uploadedfile\.json")]
    assert child["parent"] == uf_id and child["status"] == 30 and child["user"] == 61
    assert child["filename"] == "upload-1/processed/visualisation.PYRTIFF"
    (converted,) = [c["body"] for c in core.of("PUT") if c["body"]["id"] != uf_id]
    assert converted["status"] == 104 and converted["size"] == manifest.file("SPATIAL").size > 0
    (ai,) = [c["body"] for c in core.of("POST", r"abstractimage\.json")]
    assert (ai["width"], ai["height"], ai["depth"], ai["duration"]) == (400, 300, 1, 1)
    assert (ai["channels"], ai["samplePerPixel"], ai["bitPerSample"]) == (1, 3, 8)
    assert ai["uploadedFile"] == uf_id and ai["originalFilename"] == "slide.tif"
    assert ai["physicalSizeX"] == pytest.approx(250.0)  # 4 px/mm: 250 µm a pixel
    (slices,) = [c["body"] for c in core.of("POST", r"abstractslice\.json")]
    assert slices == [{"image": hearer.images[0]["image"]["id"], "uploadedFile": uf_id,
                       "mime": "image/pyrtiff", "channel": 0, "zStack": 0, "time": 0,
                       "channelName": slices[0]["channelName"]}]  # fmt: skip
    props = [p for c in core.of("POST", r"property\.json") for p in c["body"]]
    ai_id = hearer.images[0]["image"]["id"]
    assert all(p["domainIdent"] == ai_id and p["domainClassName"] == AI_CLASS for p in props)
    assert {"k1": "v1"}.items() <= {p["key"]: p["value"] for p in props}.items()
    assert "k2" not in {p["key"] for p in props}  # an empty value is left out, as PIMS does
    assert all(
        c["path"].startswith(f"/api/domain/{AI_CLASS}/{ai_id}/")
        for c in core.of("POST", "property")
    )
    instances = [c["body"] for c in core.of("POST", r"imageinstance\.json")]
    assert instances == [{"baseImage": ai_id, "project": 34}, {"baseImage": ai_id, "project": 35}]
    last = core.of("PUT", rf"uploadedfile/{uf_id}")[-1]["body"]
    assert last["contentType"] == manifest.format_id and last["storage"] == 12
    order = [c["path"].split("/api/")[1].split("/")[0] for c in core.calls if c["method"] == "POST"]
    assert order.index("abstractimage.json") < order.index("abstractslice.json")
    assert order.index("imageinstance.json") == len(order) - 2  # the instances come last
    assert [len(i["imageInstances"]) for i in hearer.images] == [2]
    assert hearer.current()["status"] == 100  # fetched from the core


def test_a_failed_import_sets_the_error_code(tmp_path: Path, core: Core) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("not an image at all\n" * 50)
    manifest, _ = run(tmp_path, core, src)
    assert manifest.status is Status.ERROR_FORMAT
    puts = [c["body"]["status"] for c in core.of("PUT")]
    assert puts == [10, 11] and not core.of("POST", "abstractimage")


def test_an_image_the_core_refuses_ends_error_deployment_there(tmp_path: Path, core: Core) -> None:
    src = tmp_path / "small.png"
    tissue(200, 150).pngsave(str(src))
    core.refuse[r"^abstractimage\.json"] = 403
    manifest, hearer = run(tmp_path, core, src)
    assert manifest.status is Status.DEPLOYED  # the import itself is not failed by the core
    assert [c["body"]["status"] for c in core.of("PUT", r"uploadedfile/\d+")][-1] == 41
    assert hearer.images == []


def test_a_core_that_is_down_never_fails_the_import(tmp_path: Path) -> None:
    with running() as core:
        storage = LocalStorage(tmp_path / "root")
        hearer = listener(core, storage, "upload-2")
    src = tmp_path / "small.png"
    tissue(200, 150).pngsave(str(src))  # the core is gone now
    manifest = import_file(storage, src, settings=SETTINGS, upload_id="upload-2",
                           listeners=[hearer])  # fmt: skip
    assert manifest.status is Status.DEPLOYED
    assert hearer.current() == hearer.uploaded_file  # the last known, when it cannot be asked


def test_slices_of_a_multichannel_stack_and_of_rgb() -> None:
    channels = [{"index": i, "suggested_name": n, "color": c}
                for i, (n, c) in enumerate([("DAPI", "#0000FF"), ("GFP", "#00FF00")])]  # fmt: skip
    image = {"n_concrete_channels": 2, "n_samples": 1, "depth": 3, "duration": 2,
             "channels": channels}  # fmt: skip
    slices = core_models.abstract_slices(image, 5, 9)
    assert len(slices) == 2 * 3 * 2
    assert {(s["channel"], s["channelName"], s["channelColor"]) for s in slices} == {
        (0, "DAPI", "#0000FF"), (1, "GFP", "#00FF00")}  # fmt: skip
    assert {(s["zStack"], s["time"]) for s in slices} == {
        (z, t) for z in range(3) for t in range(2)
    }
    rgb = [{"index": i, "suggested_name": n} for i, n in enumerate(["R", "G", "B"])]
    (one,) = core_models.abstract_slices(
        {"n_concrete_channels": 1, "n_samples": 3, "channels": rgb}, 5, 9
    )
    assert one["channelName"] == "R|G|B" and "channelColor" not in one
    assert [len(c) for c in core_models.chunks([{}] * 40)] == [15, 15, 10]


def test_an_archives_images_get_their_own_uploaded_files(tmp_path: Path, core: Core) -> None:
    import zipfile

    src = tmp_path / "two.zip"
    with zipfile.ZipFile(src, "w") as archive:
        for name, width in (("a.png", 120), ("b.png", 90)):
            archive.writestr(name, tissue(width, 80).pngsave_buffer())
    manifest, hearer = run(tmp_path, core, src)
    assert manifest.status is Status.EXTRACTED, manifest.reason
    root_id = hearer.uploaded_file["id"]
    assert core.of("PUT", rf"uploadedfile/{root_id}\.json")[-1]["body"]["status"] == 102
    members = [
        c["body"] for c in core.of("POST", r"/uploadedfile\.json") if c["body"]["status"] == 0
    ]
    assert sorted(m["originalFilename"] for m in members) == ["a.png", "b.png"]
    assert all(m["parent"] == root_id and m["storage"] == 12 for m in members)
    widths = sorted(i["image"]["width"] for i in hearer.images)
    assert widths == [90, 120] and all(len(i["imageInstances"]) == 2 for i in hearer.images)
    ai_files = {c["body"]["uploadedFile"] for c in core.of("POST", r"abstractimage\.json")}
    assert root_id not in ai_files and len(ai_files) == 2  # each image on its member's file
