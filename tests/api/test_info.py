"""Server info, image information, metadata, histograms and associated images."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cytotile import __version__
from cytotile.api.app import create_app
from cytotile.manifest import FileEntry, Manifest, Status
from cytotile.settings import ServerSettings
from cytotile.storage.local import LocalStorage
from tests.api.conftest import Images, decode


def test_server_info(client: TestClient) -> None:
    body = client.get("/info").json()
    assert body["version"] == __version__
    assert body["api_version"]
    settings = body["settings"]
    assert settings["max_output_pixels"] == 4_000_000 and settings["output_size_limit"] == 2000
    assert settings["default_image_size_safety_mode"] == "SAFE_REJECT"
    assert not any("root" in k or "url" in k for k in settings)  # no storage location


def test_ping(client: TestClient) -> None:
    response = client.get("/ping")
    assert response.status_code == 200 and response.json() == {"ping": "pong"}
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("resource", ["formats", "filters", "colormaps"])
def test_collections(client: TestClient, resource: str) -> None:
    body = client.get(f"/{resource}").json()
    assert body["size"] == len(body["items"])
    for item in body["items"]:
        assert item["id"]


def test_one_filter_and_colormap(client: TestClient) -> None:
    assert client.get("/filters/otsu").json()["id"] == "OTSU"
    assert client.get("/filters/binary").json()["id"] == "ISODATA"  # PIMS's alias
    assert client.get("/filters/isodata").json()["aliases"] == ["BINARY"]
    assert client.get("/colormaps/JET").json()["id"] == "JET"
    inverted = client.get("/colormaps/!viridis").json()
    assert inverted == {"id": "!VIRIDIS", "name": "Viridis (Inverted)",
                        "type": "PERCEPTUAL_UNIFORM", "n_colors": 256}  # fmt: skip
    assert client.get("/filters/nope").status_code == 404
    assert client.get("/colormaps/nope").status_code == 404
    assert client.get("/colormaps/RED").status_code == 404  # a colour, not a listed map


def test_colormaps_list(client: TestClient) -> None:
    items = client.get("/colormaps").json()["items"]
    assert len(items) == 82 and items[0]["id"] == "VIRIDIS" and items[-1]["id"] == "GIST_NCAR"
    both = client.get("/colormaps", params={"with_inverted": "true"}).json()
    assert both["size"] == 164 and both["items"][1]["id"] == "!VIRIDIS"


def test_formats_readable(client: TestClient) -> None:
    items = {i["id"]: i for i in client.get("/formats").json()["items"]}
    assert items["PNG"]["readable"] and items["PNG"]["importable"]
    assert items["SVS"]["readable"] and items["PYRTIFF"]["writable"]


def test_formats_without_the_formats_module(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cytotile.formats

    def broken() -> list[dict[str, object]]:
        raise RuntimeError("boom")

    monkeypatch.setattr(cytotile.formats, "describe_formats", broken, raising=False)
    assert client.get("/formats").json() == {"size": 0, "items": []}


def test_full_info(client: TestClient, images: Images) -> None:
    response = client.get(f"/image/{images.rgb.path}/info")
    assert response.status_code == 200
    assert response.headers["etag"] and "public" in response.headers["cache-control"]
    body = response.json()
    assert set(body) == {"image", "instrument", "associated", "channels", "representations"}
    image = body["image"]
    assert (image["width"], image["height"]) == (1001, 777)
    assert image["n_channels"] == 3 and image["n_concrete_channels"] == 1
    assert image["n_planes"] == 1 and image["pixel_type"] == "uint8"
    assert image["original_format"] == "TEST" and image["physical_size_x"] == 0.5
    assert (image["n_samples"], image["are_rgb_planes"]) == (3, True)
    assert image["n_distinct_channels"] == 1
    assert image["bits"] == 8 and image["significant_bits"] == 8
    assert body["instrument"]["objective"]["nominal_magnification"] == 20.0
    assert body["instrument"]["microscope"]["model"] == "Synthetic"
    assert [c["suggested_name"] for c in body["channels"]] == ["R", "G", "B"]
    assert [c["color"] for c in body["channels"]] == ["#f00", "#0f0", "#00f"]  # PIMS's defaults
    assert {a["name"] for a in body["associated"]} == {"label", "macro"}
    roles = {r["role"] for r in body["representations"]}
    assert roles == {"UPLOAD", "ORIGINAL", "SPATIAL"}
    spatial = next(r for r in body["representations"] if r["role"] == "SPATIAL")
    assert spatial["pyramid"]["n_tiers"] == 3
    assert spatial["serving_pyramid"]["generated_by"] == "cytotile"
    assert spatial["file"]["extension"] == ".PYRTIFF"
    again = client.get(f"/image/{images.rgb.path}/info",
                       headers={"If-None-Match": response.headers["etag"]})  # fmt: skip
    assert again.status_code == 304


def test_info_parts(client: TestClient, images: Images) -> None:
    base = f"/image/{images.multi.path}"
    image = client.get(f"{base}/info/image").json()
    assert image["depth"] == 3 and image["n_planes"] == 6 and image["bits"] == 16
    assert (image["n_samples"], image["are_rgb_planes"]) == (1, False)
    channels = client.get(f"{base}/info/channels").json()
    assert channels["size"] == 2
    assert channels["items"][0]["suggested_name"] == "DAPI"
    assert [c["color"] for c in channels["items"]] == ["#f00", "#0f0"]  # the file's own colours
    pyramid = client.get(f"{base}/info/normalized-pyramid").json()
    assert pyramid["n_tiers"] == 2
    assert pyramid["tiers"][0] == {
        "zoom": 1, "level": 0, "width": 300, "height": 200, "tile_width": 256,
        "tile_height": 256, "downsampling_factor": 1.0, "n_tiles": 2, "n_tx": 2, "n_ty": 1,
    }  # fmt: skip
    assert client.get(f"{base}/info/instrument").json()["microscope"] == {"model": None}
    assert client.get(f"{base}/info/associated").json() == {"size": 0, "items": []}
    reps = client.get(f"{base}/info/representations").json()
    assert reps["size"] == 3
    assert client.get(f"{base}/info/representations/UPLOAD").json()["role"] == "UPLOAD"
    assert client.get(f"{base}/info/representations/spectral").status_code == 404
    assert client.get(f"{base}/info/representations/bogus").status_code == 422


def test_grey_channels(client: TestClient, images: Images) -> None:
    channels = client.get(f"/image/{images.grey.path}/info/channels").json()["items"]
    assert [(c["index"], c["suggested_name"], c["color"]) for c in channels] == [(0, "L", "#fff")]
    image = client.get(f"/image/{images.u16.path}/info/image").json()
    assert (image["bits"], image["significant_bits"], image["pixel_type"]) == (16, 12, "uint16")


def test_metadata(client: TestClient, images: Images) -> None:
    body = client.get(f"/image/{images.rgb.path}/metadata").json()
    items = {(i["namespace"], i["key"]): i for i in body["items"]}
    assert body["size"] == 5
    assert items[("TEST", "vendor")] == {"key": "vendor", "value": "cytotile", "type": "STRING",
                                         "namespace": "TEST"}  # fmt: skip
    assert items[("TEST", "count")]["type"] == "INTEGER" and items[("TEST", "count")]["value"] == 3
    assert items[("TEST", "ratio")]["type"] == "DECIMAL"
    assert items[("TEST", "flag")]["type"] == "BOOLEAN"
    assert items[("OTHER", "list")] == {"key": "list", "value": [1, 2], "type": "LIST",
                                        "namespace": "OTHER"}  # fmt: skip


def test_file_info(client: TestClient, images: Images) -> None:
    body = client.get(f"/file/{images.rgb.path}/info").json()
    assert body["role"] == "UPLOAD" and body["stem"] == "CMU-1" and body["extension"] == ".svs"
    assert body["file_type"] == "SINGLE" and body["size"] == 14
    assert client.get(f"/file/{images.rgb.upload_id}/info").json()["role"] == "UPLOAD"
    assert client.get(f"/file/{images.rgb.upload_id}/other.svs/info").status_code == 404


def test_unknown_image(client: TestClient) -> None:
    for tail in ("info", "info/image", "metadata", "histograms", "associated/label"):
        response = client.get(f"/image/upload-0000/x.svs/{tail}")
        assert response.status_code == 404, tail
        assert set(response.json()) == {"title", "details"}


def test_histograms(client: TestClient, images: Images) -> None:
    base = f"/image/{images.rgb.path}/histograms"
    listed = client.get(base).json()
    assert {i["pool"] for i in listed["items"]} == {"PER_PLANE", "PER_CHANNEL", "PER_IMAGE"}
    full = client.get(f"{base}/full").json()
    assert full["n_bins"] == 256 and len(full["hist"]) == 256 and len(full["bin_centers"]) == 256
    assert full["bin_centers"][:2] == [0.0, 1.0]
    total = sum(full["hist"])
    assert total > 0
    rebinned = client.get(f"{base}/full", params={"n_bins": 4}).json()
    assert len(rebinned["hist"]) == 4 and sum(rebinned["hist"]) == total
    channels = client.get(f"{base}/c/0,2").json()
    assert [i["c"] for i in channels["items"]] == [0, 2]
    assert sum(sum(i["hist"]) for i in client.get(f"{base}/c/0,1,2").json()["items"]) == total
    plane = client.get(f"{base}/c/1/z/0/t/0").json()["items"][0]
    assert (plane["c"], plane["z"], plane["t"], plane["pool"]) == (1, 0, 0, "PER_PLANE")
    assert client.get(f"{base}/c/3").status_code == 422
    assert client.get(f"{base}/full", params={"n_bins": 0}).status_code == 422


def test_u16_histogram_bins(client: TestClient, images: Images) -> None:
    full = client.get(f"/image/{images.u16.path}/histograms/full").json()
    assert full["bin_centers"][0] == 127.5
    assert full["maximum"] <= 4095


def test_multi_histograms_per_plane(client: TestClient, images: Images) -> None:
    items = client.get(f"/image/{images.multi.path}/histograms/c/0,1/z/0,2/t/0").json()["items"]
    assert [(i["c"], i["z"]) for i in items] == [(0, 0), (0, 2), (1, 0), (1, 2)]
    assert client.get(f"/image/{images.multi.path}/histograms/c/0/z/3/t/0").status_code == 422


def test_associated(client: TestClient, images: Images) -> None:
    base = f"/image/{images.rgb.path}/associated"
    stored = images.storage.read(images.rgb.manifest.associated["label"])
    label = next(i for i in client.get(f"/image/{images.rgb.path}/info/associated").json()["items"]
                 if i["name"] == "label")  # fmt: skip
    png = client.get(f"{base}/label.png", params={"length": max(label["width"], label["height"])})
    assert png.status_code == 200 and png.content == stored  # its own size: the stored PNG
    default = decode(client.get(f"{base}/label.png").content)
    assert max(default.shape[:2]) == 256  # PIMS's default length
    assert decode(client.get(f"{base}/macro.jpg").content).shape == (85, 256, 3)  # 300x100
    small = client.get(f"{base}/macro.webp", params={"length": 60})
    assert small.headers["content-type"] == "image/webp"
    assert decode(small.content).shape[:2] == (20, 60)
    assert decode(client.get(f"{base}/label", params={"height": 40}).content).shape[:2] == (40, 60)
    assert client.get(f"{base}/thumb").status_code == 404
    assert client.get(f"{base}/barcode").status_code == 422
    etag = client.get(f"{base}/label.png").headers["etag"]
    assert client.get(f"{base}/label.png", headers={"If-None-Match": etag}).status_code == 304


def test_colormap_representation(client: TestClient) -> None:
    png = client.get("/colormaps/viridis/representation.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    pixels = decode(png.content)
    assert pixels.shape == (10, 100, 3)
    assert pixels[0, 0].tolist() == [68, 1, 84] and pixels[9, 99].tolist() == [253, 231, 37]
    inverted = decode(client.get("/colormaps/!viridis/representation.png").content)
    assert inverted[0, 0].tolist() == [253, 231, 37]
    sized = client.get("/colormaps/jet/representation.webp", params={"width": 300, "height": 4})
    assert decode(sized.content).shape[:2] == (4, 300)
    assert client.get("/colormaps/nope/representation.png").status_code == 404
    assert client.get("/colormaps/jet/representation", params={"width": 5}).status_code == 422


def test_collection_file_info(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    child = Manifest("upload-child", "a.png", Status.DEPLOYED,
                     files=[FileEntry("UPLOAD", "upload-child/a.png", 10, "PNG")])  # fmt: skip
    child.save(storage)
    upload = FileEntry("UPLOAD", "upload-zip/images.zip", 99)
    children = [{"id": "upload-child"}, {"id": "upload-gone"}, {"id": "../x"}]
    archive = Manifest(
        "upload-zip", "images.zip", Status.EXTRACTED, files=[upload], children=children
    )
    archive.save(storage)
    with TestClient(create_app(ServerSettings(root=str(tmp_path)), storage)) as client:
        body = client.get("/file/upload-zip/images.zip/info").json()
    assert body["file_type"] == "COLLECTION" and body["extension"] == ".zip"
    assert [(c["filepath"], c["file_type"], c["size"]) for c in body["children"]] == [
        ("upload-child/a.png", "SINGLE", 10)
    ]
