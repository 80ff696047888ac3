"""Files holding several images (OME-TIFF ``Image`` elements, LIF series): a collection as an
archive is: the upload ends EXTRACTED listing its children, each image its own DEPLOYED upload
(its pixels the file's), the file's label/macro and a pyramid stored as images stay parts of
one image; a single-image file stays a plain image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from cytotile.formats import detect
from cytotile.importer.flow import import_file
from cytotile.importer.series import child_name, series_child_id
from cytotile.manifest import PYRAMID_NAME, Manifest, Status
from cytotile.pyramid import Region
from cytotile.storage.local import LocalStorage
from cytotile.tiff.reader import PyramidReader
from tests.formats.test_microscopy import write_lif
from tests.helpers.pixels import mad

RNG = np.random.default_rng(11)
FLUO = RNG.integers(0, 65535, size=(2, 40, 56), dtype=np.uint16)  # C, Y, X
RGB = (RNG.integers(0, 255, size=(30, 44, 3))).astype(np.uint8)
STACK = RNG.integers(0, 255, size=(3, 24, 20), dtype=np.uint8)  # Z, Y, X
LABEL = np.full((16, 24, 3), 200, dtype=np.uint8)


def write_ome(path: Path, images: list[tuple[np.ndarray, str, str]]) -> Path:
    """An OME-TIFF of several ``Image`` elements: (data, axes, name) each."""
    with tifffile.TiffWriter(path, ome=True) as tif:
        for data, axes, name in images:
            rgb = axes.endswith("S")
            tif.write(
                data,
                photometric="rgb" if rgb else "minisblack",
                metadata={"axes": axes, "Name": name},
            )
    return path


def plane(storage: LocalStorage, upload_id: str, index: int = 0) -> np.ndarray:
    """Level 0 of plane ``index`` of a deployed upload's serving pyramid."""
    reader = PyramidReader.load(storage, f"{upload_id}/{PYRAMID_NAME}")
    header = reader.header
    return reader.read_region(index, 0, Region(0, 0, header.width, header.height))


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    return write_ome(
        tmp_path / "slide.ome.tif",
        [
            (FLUO, "CYX", "fluo"),
            (RGB, "YXS", "brightfield"),
            (LABEL, "YXS", "label"),
            (STACK, "ZYX", "stack"),
        ],
    )


def test_ome_tiff_of_several_images_is_a_collection(tmp_path: Path, collection: Path) -> None:
    fmt = detect(collection)
    assert fmt.images(collection) == ["fluo", "brightfield", "stack"]  # the label is a part
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, collection, name="slide.ome.tif", upload_id="upload-fixed")
    assert parent.status is Status.EXTRACTED, parent.reason
    assert [c["name"] for c in parent.children] == [
        "slide.ome.tif [series 1: fluo]",
        "slide.ome.tif [series 2: brightfield]",
        "slide.ome.tif [series 3: stack]",
    ]
    assert [c["series"] for c in parent.children] == [0, 1, 2]
    assert all(c["status"] == "DEPLOYED" for c in parent.children), parent.children
    assert Manifest.load(storage, parent.id).children == parent.children
    assert len(storage.list_uploads()) == 4
    kids = [Manifest.load(storage, c["id"]) for c in parent.children]
    for k, kid in enumerate(kids):
        assert kid.status is Status.DEPLOYED, kid.reason
        assert kid.id == series_child_id(parent.id, k)
        assert kid.parent == parent.id and kid.source["series"] == k
        upload, original = kid.file("UPLOAD"), kid.file("ORIGINAL")
        assert upload is not None and original is not None
        assert upload.key == original.key == f"{parent.id}/slide.ome.tif"
        assert upload.is_reference and original.is_reference  # the parent's bytes, not copied
        assert kid.image is not None and kid.image["raw_metadata"]["OME.ImageIndex"] == [0, 1, 3][k]
    fluo, rgb, stack = kids
    assert fluo.image is not None and (fluo.image["n_channels"], fluo.image["pixel_type"]) == (
        2,
        "uint16",
    )
    for c in range(2):  # lossless
        assert np.array_equal(plane(storage, fluo.id, c)[..., 0], FLUO[c])
    assert mad(plane(storage, rgb.id), RGB) < 3  # JPEG tiers
    assert stack.image is not None and stack.image["depth"] == 3
    assert mad(plane(storage, stack.id, 2)[..., 0], STACK[2]) < 3  # 8-bit grey: JPEG
    # each image carries the file's label
    assert set(fluo.associated) == {"label"} and set(stack.associated) == {"label"}
    served_by_the_api(storage, parent, kids)
    again = import_file(storage, collection, upload_id="upload-fixed")  # a retried delivery
    assert again.children == parent.children and len(storage.list_uploads()) == 4


def served_by_the_api(storage: LocalStorage, parent: Manifest, kids: list[Manifest]) -> None:
    """The children are images of their own under their names (spaces, brackets, a colon); the
    parent is a COLLECTION listing them."""
    from urllib.parse import quote

    from starlette.testclient import TestClient

    from cytotile.api.app import create_app
    from cytotile.settings import ServerSettings

    app = create_app(ServerSettings(root=str(storage.root)), storage)
    with TestClient(app) as client:
        for kid in kids:
            path = quote(f"{kid.id}/{kid.original_name}")
            info = client.get(f"/image/{path}/info")
            assert info.status_code == 200, info.text
            assert info.json()["image"]["width"] == kid.image["width"]  # type: ignore[index]
            tile = client.get(f"/image/{path}/normalized-tile/level/0/tx/0/ty/0.png")
            assert tile.status_code == 200
        listed = {u["id"]: u for u in client.get("/uploads").json()}
        assert [c["status"] for c in listed[parent.id]["children"]] == ["DEPLOYED"] * len(kids)
        assert {listed[k.id]["parent"] for k in kids} == {parent.id}
        info = client.get(f"/file/{quote(f'{parent.id}/{parent.original_name}')}/info").json()
        assert info["file_type"] == "COLLECTION" and len(info["children"]) == len(kids)


def test_one_image_with_its_label_and_pyramid_stays_an_image(tmp_path: Path) -> None:
    big = RNG.integers(0, 255, size=(64, 100, 3), dtype=np.uint8)
    path = write_ome(
        tmp_path / "one.ome.tif",
        [
            (big, "YXS", "scan"),
            (big[::2, ::2], "YXS", "scan level 1"),  # a pyramid written as images
            (big[::4, ::4], "YXS", "scan level 2"),
            (LABEL, "YXS", "label"),
            (LABEL[::2, ::2], "YXS", "Macro image"),
        ],
    )
    fmt = detect(path)
    assert fmt.images(path) == []
    storage = LocalStorage(tmp_path / "root")
    manifest = import_file(storage, path)
    assert manifest.status is Status.DEPLOYED, manifest.reason
    assert manifest.children == []
    assert manifest.image is not None and (manifest.image["width"], manifest.image["height"]) == (
        100,
        64,
    )
    assert set(manifest.associated) == {"label", "macro"}
    with fmt.open(path) as source:
        label = source.associated("label")
        assert label is not None and np.array_equal(label.numpy(), LABEL)


def test_a_series_beyond_the_file_is_a_format_error(tmp_path: Path, collection: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    child = import_file(storage, collection, upload_ref="elsewhere/slide.ome.tif", series=7)
    assert child.status is Status.ERROR_FORMAT
    assert "holds 3 images, not 8" in (child.reason or "")


def test_lif_series_each_an_image(tmp_path: Path) -> None:
    series = [
        RNG.integers(0, 4000, size=(2, 2, 20, 30), dtype=np.uint16),  # Z, C, H, W
        RNG.integers(0, 4000, size=(1, 2, 12, 16), dtype=np.uint16),
        RNG.integers(0, 4000, size=(3, 2, 8, 10), dtype=np.uint16),
    ]
    path = write_lif(tmp_path / "exp.lif", series, ("Green", "Red"))
    assert detect(path).images(path) == ["Series0", "Series1", "Series2"]
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, path)
    assert parent.status is Status.EXTRACTED, parent.reason
    names = [c["name"] for c in parent.children]
    assert names == [child_name("exp.lif", k, f"Series{k}") for k in range(3)]
    assert names[1] == "exp.lif [series 2: Series1]"
    for k, data in enumerate(series):
        kid = Manifest.load(storage, parent.children[k]["id"])
        assert kid.status is Status.DEPLOYED, kid.reason
        assert kid.image is not None
        n_z, n_c, h, w = data.shape
        assert (kid.image["width"], kid.image["height"], kid.image["depth"]) == (w, h, n_z)
        assert kid.image["raw_metadata"]["LIF.SeriesIndex"] == k
        for z in range(n_z):
            for c in range(n_c):
                index = z * n_c + c  # plane order: c fastest, then z
                assert np.array_equal(plane(storage, kid.id, index)[..., 0], data[z, c])


def test_single_series_lif_stays_an_image(tmp_path: Path) -> None:
    data = RNG.integers(0, 4000, size=(1, 1, 10, 12), dtype=np.uint16)
    path = write_lif(tmp_path / "one.lif", [data], ("Gray",))
    manifest = import_file(LocalStorage(tmp_path / "root"), path)
    assert manifest.status is Status.DEPLOYED and manifest.children == []


def test_czi_scenes_each_an_image(tmp_path: Path) -> None:
    from tests.helpers.czifiles import write_czi

    a = RNG.integers(0, 4000, size=(2, 30, 40), dtype=np.uint16)
    b = RNG.integers(0, 4000, size=(2, 20, 25), dtype=np.uint16)
    path = write_czi(tmp_path / "plate.czi", [(a, 100, 50, "Well A1"), (b, 400, 300, "Well B2")])
    assert detect(path).images(path) == ["Well A1", "Well B2"]
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, path)
    assert parent.status is Status.EXTRACTED, parent.reason
    assert [c["name"] for c in parent.children] == [
        "plate.czi [series 1: Well A1]",
        "plate.czi [series 2: Well B2]",
    ]
    for k, data in enumerate((a, b)):  # each scene its own frame: its subblocks' bounding box
        kid = Manifest.load(storage, parent.children[k]["id"])
        assert kid.status is Status.DEPLOYED, kid.reason
        assert kid.image is not None
        assert (kid.image["width"], kid.image["height"]) == (data.shape[2], data.shape[1])
        assert kid.image["raw_metadata"]["CZI.SceneIndex"] == k
        for c in range(2):
            assert np.array_equal(plane(storage, kid.id, c)[..., 0], data[c])


def test_single_scene_czi_stays_an_image(tmp_path: Path) -> None:
    from tests.helpers.czifiles import write_czi

    data = RNG.integers(0, 4000, size=(1, 12, 14), dtype=np.uint16)
    path = write_czi(tmp_path / "one.czi", [(data, 7, 9, "only")])
    assert detect(path).images(path) == []
    storage = LocalStorage(tmp_path / "root")
    manifest = import_file(storage, path)
    assert manifest.status is Status.DEPLOYED and manifest.children == []
    assert np.array_equal(plane(storage, manifest.id)[..., 0], data[0])


def test_a_multi_image_file_in_an_archive_is_a_collection_of_its_own(tmp_path: Path) -> None:
    from tests.importer import archive_builders as build

    slide = write_ome(tmp_path / "two.ome.tif", [(FLUO, "CYX", "fluo"), (STACK, "ZYX", "z")])
    archive = build.write_zip(
        tmp_path / "batch.zip",
        {"slide.ome.tif": slide.read_bytes(), "scan.png": build.png(4, 60, 40)},
    )
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, archive)
    assert parent.status is Status.EXTRACTED, parent.reason
    by_path = {c["path"]: c for c in parent.children}
    assert by_path["scan.png"]["status"] == "DEPLOYED"
    assert by_path["slide.ome.tif"]["status"] == "EXTRACTED"  # itself a collection
    member = Manifest.load(storage, by_path["slide.ome.tif"]["id"])
    assert member.parent == parent.id and len(member.children) == 2
    for entry in member.children:
        kid = Manifest.load(storage, entry["id"])
        assert kid.status is Status.DEPLOYED and kid.parent == member.id, kid.reason
        upload = kid.file("UPLOAD")
        assert upload is not None and upload.key == f"{parent.id}/extracted/slide.ome.tif"
    assert len(storage.list_uploads()) == 1 + 2 + 2


def test_more_images_than_the_limit_is_a_format_error(tmp_path: Path) -> None:
    from cytotile.settings import ImportSettings

    series = [np.zeros((1, 1, 4, 4), dtype=np.uint16)] * 3
    path = write_lif(tmp_path / "many.lif", series, ("Gray",))
    storage = LocalStorage(tmp_path / "root")
    manifest = import_file(storage, path, settings=ImportSettings(archive_max_members=2))
    assert manifest.status is Status.ERROR_FORMAT
    assert "holds 3 images, more than the limit of 2" in (manifest.reason or "")
    assert storage.list_uploads() == [manifest.id]
