"""Contract: every JSON answer of the suite's images validates against PIMS's schemas, route by
route, every declared field required (tests/api/pims_schemas.py), and PIMS's status codes.

The images: the API suite's synthetic ones (RGB with label and macro, grey, 16-bit, two-channel
Z stack) and one file of each format cytotile imports that can be synthesized here, opened by
its own format (so its real metadata is served)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import pyvips
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.formats import detect
from cytotile.manifest import FileEntry, Manifest, Status
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.api import pims_schemas
from tests.helpers import synth
from tests.helpers.deployed import deploy, grey_source, multi_source, rgb_source, u16_source
from tests.helpers.samples import SAMPLES

pytestmark = pytest.mark.skipif(
    not pims_schemas.SPEC.exists(), reason=f"PIMS's specification is not at {pims_schemas.SPEC}"
)

#: the files whose PIMS answers were replayed in issue 13 (its 40000x30000 TIFF aside)
REPLAYED = ("CMU-1-Small-Region.svs", "boxes.tiff", "sample.png", "multi-channel-z-series.ome.tif")
SERVER_ROUTES = ["/ping", "/info", "/formats", "/filters", "/colormaps"]
IMAGE_ROUTES = [
    "info", "info/image", "info/channels", "info/instrument", "info/associated",
    "info/normalized-pyramid", "info/representations", "metadata", "histograms",
    "histograms/full", "histograms/c/{channels}",
    "histograms/c/{channels}/z/{z_slices}/t/{timepoints}",
    "histogram/per-image", "histogram/per-image/bounds", "histogram/per-channels",
    "histogram/per-channels/bounds", "histogram/per-plane/z/{z_slices}/t/{timepoints}",
    "histogram/per-plane/z/{z_slices}/t/{timepoints}/bounds",
]  # fmt: skip


@dataclass
class Image:
    name: str
    path: str
    manifest: Manifest


def _files(tmp: Path) -> Iterator[tuple[str, Path]]:
    rgb = synth.tissue(300, 200)
    rgb.pngsave(str(tmp / "rgb.png"))
    grey16 = (synth.to_numpy(rgb)[..., 0].astype(np.uint16) * 257)[..., None]
    pyvips.Image.new_from_array(grey16).copy(interpretation="grey16").pngsave(str(tmp / "g.png"))
    rgb.jpegsave(str(tmp / "rgb.jpg"), Q=90)
    yield "PNG", tmp / "rgb.png"
    yield "PNG 16-bit", tmp / "g.png"
    yield "JPEG", tmp / "rgb.jpg"
    yield "PLANARTIFF", synth.write_tiff(tmp / "planar.tif", synth.to_numpy(rgb))
    yield "PYRTIFF", synth.write_pyramidal_tiff(tmp / "pyr.tif", synth.tissue(700, 500))
    yield "SVS", synth.write_svs(tmp / "slide.svs", synth.to_numpy(synth.tissue(700, 500)))
    for name in REPLAYED:  # the real files of the replay, when the samples are here
        if (SAMPLES / name).is_file():
            yield name, SAMPLES / name


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, list[Image]]]:
    tmp = tmp_path_factory.mktemp("contract")
    storage = LocalStorage(tmp / "root")
    found = []
    for name, source in (("rgb", rgb_source()), ("grey", grey_source()), ("u16", u16_source()),
                         ("multi", multi_source())):  # fmt: skip
        deployed = deploy(storage, source, f"{name}.tif")
        found.append(Image(f"synthetic {name}", deployed.path, deployed.manifest))
    for name, path in _files(tmp):
        with detect(path).open(path) as opened:
            deployed = deploy(storage, opened, path.name)  # type: ignore[arg-type]
        found.append(Image(name, deployed.path, deployed.manifest))
    settings = ServerSettings(root=str(storage.root), max_output_pixels=4_000_000)
    with TestClient(create_app(settings, storage)) as client:
        yield client, found


def _is_route(response: object) -> bool:
    """False for the router's own 404 (no such route yet), True for any answer of a route."""
    body = response.json()  # type: ignore[attr-defined]
    return not (response.status_code == 404 and body.get("title") == "Not found")  # type: ignore[attr-defined]


def _check(client: TestClient, template: str, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    errors = sorted(pims_schemas.validator(template).iter_errors(response.json()), key=str)
    assert not errors, (url, [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                              for e in errors[:5]])  # fmt: skip


def test_server_routes(contract: tuple[TestClient, list[Image]]) -> None:
    client, _ = contract
    for template in SERVER_ROUTES:
        _check(client, template, template)
    ones = {"/formats": "/formats/{format_id}", "/filters": "/filters/{filter_id}",
            "/colormaps": "/colormaps/{colormap_id}"}  # fmt: skip
    for listing, template in ones.items():
        ids = [i["id"] for i in client.get(listing).json()["items"]]
        assert ids, listing
        for cid in ids:
            _check(client, template, template.split("{")[0] + cid.replace("#", "%23"))


@pytest.mark.parametrize("route", IMAGE_ROUTES)
def test_image_routes(contract: tuple[TestClient, list[Image]], route: str) -> None:
    client, found = contract
    template = "/image/{filepath}/" + route
    for image in found:
        url = "/image/" + image.path + "/" + route.format(channels=0, z_slices=0, timepoints=0)
        if not _is_route(client.get(url)):
            assert route.startswith("histogram/"), f"{url}: no such route"
            pytest.skip(f"{route}: not served yet (the multi-dimensional work adds it)")
        _check(client, template, url)


def test_representations_and_files(contract: tuple[TestClient, list[Image]]) -> None:
    client, found = contract
    for image in found:
        for entry in image.manifest.files:
            if entry.role in ("UPLOAD", "ORIGINAL", "SPATIAL"):
                url = f"/image/{image.path}/info/representations/{entry.role}"
                _check(client, "/image/{filepath}/info/representations/{representation}", url)
        _check(client, "/file/{filepath}/info", f"/file/{image.path}/info")
    upload = FileEntry("UPLOAD", "upload-zip/all.zip", 99)
    children = [{"id": image.manifest.id} for image in found]
    archive = Manifest("upload-zip", "all.zip", Status.EXTRACTED, files=[upload], children=children)
    archive.save(LocalStorage(client.app.state.cytotile.storage.root))  # type: ignore[attr-defined]
    _check(client, "/file/{filepath}/info", "/file/upload-zip/all.zip/info")
    listed = client.get("/file/upload-zip/all.zip/info").json()
    assert listed["file_type"] == "COLLECTION" and len(listed["children"]) == len(found)


def test_metadata_namespaces_and_types(contract: tuple[TestClient, list[Image]]) -> None:
    client, found = contract
    by_name = {i.name: client.get(f"/image/{i.path}/metadata").json()["items"] for i in found}
    svs = {(m["namespace"], m["key"]): m for m in by_name["SVS"]}
    for key in ("ImageWidth", "ImageLength", "BitsPerSample", "Compression", "TileWidth"):
        assert ("TIFF", key) in svs, key
    assert svs[("APERIO", "AppMag")] == {"key": "AppMag", "value": 40, "type": "INTEGER",
                                          "namespace": "APERIO"}  # fmt: skip
    assert svs[("APERIO", "MPP")]["type"] == "DECIMAL"
    png = {(m["namespace"], m["key"]): m["value"] for m in by_name["PNG"]}
    assert png[("PNG", "Compression")] == "Deflate/Inflate" and png[("PNG", "Filter")] == "Adaptive"
    assert png[("PNG", "ImageWidth")] == 300


def test_pims_values(contract: tuple[TestClient, list[Image]]) -> None:
    client, found = contract
    info = {i.name: client.get(f"/image/{i.path}/info").json() for i in found}
    assert info["PNG 16-bit"]["image"]["bits"] == 16
    assert [c["color"] for c in info["SVS"]["channels"]] == ["#f00", "#0f0", "#00f"]
    assert info["PNG 16-bit"]["channels"][0]["color"] == "#fff"
    assert info["PYRTIFF"]["image"]["description"] == ""  # a string, as PIMS's tifffile gives
    assert info["SVS"]["image"]["description"].startswith("Aperio")
    if "multi-channel-z-series.ome.tif" in info:  # fluorescence: the file's own colours
        ome = info["multi-channel-z-series.ome.tif"]
        assert [c["color"] for c in ome["channels"]] == ["#f00", "#0f0", "#00f"]
        assert (ome["image"]["n_channels"], ome["image"]["depth"]) == (3, 5)
    if "sample.png" in info:
        assert info["sample.png"]["image"]["bits"] == 16


@pytest.mark.parametrize(
    "tail", ["info", "info/image", "info/channels", "info/instrument", "info/associated",
             "info/normalized-pyramid", "info/representations", "info/representations/UPLOAD",
             "metadata", "histograms", "associated/label", "thumb", "thumb.png",
             "normalized-tile/level/0/ti/0", "resized"],
)  # fmt: skip
def test_unknown_image_is_404(contract: tuple[TestClient, list[Image]], tail: str) -> None:
    client, _ = contract
    for path in ("upload-0000/x.svs", "CMU-1-Small-Region.svs", "a/b/c.png"):
        response = client.get(f"/image/{path}/{tail}")
        assert response.status_code == 404, (path, tail, response.status_code)


@pytest.mark.parametrize("tail", ["thumb.gif", "resized.bmp", "normalized-tile/level/0/ti/0.tif",
                                  "associated/label.gif"])  # fmt: skip
def test_unserved_extension_is_422(contract: tuple[TestClient, list[Image]], tail: str) -> None:
    client, found = contract
    assert client.get(f"/image/{found[0].path}/{tail}").status_code == 422
