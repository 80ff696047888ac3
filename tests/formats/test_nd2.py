"""Nikon ND2 (issue 7): synthesized files (tests/helpers/nd2files.py) that the nd2 package reads
as written; cytotile imports them with their C/Z/T, channel names, colours and wavelengths,
physical sizes, and planes equal to the nd2 package's read, without dask or ome-types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nd2
import numpy as np
import pytest

from cytotile.errors import FormatError
from cytotile.formats import detect
from cytotile.formats.microscopy import nd2frames, rawplanes
from cytotile.importer.convert import convert
from cytotile.pyramid import Region
from cytotile.storage.local import LocalStorage
from cytotile.tiff.reader import PyramidReader
from tests.helpers.nd2files import Nd2Channel, Nd2Spec, write_nd2

T, Z, H, W = 2, 3, 70, 90
CHANNELS = [
    Nd2Channel("DAPI", (0, 0, 255), 461.0, 405.0),
    Nd2Channel("GFP", (0, 255, 0), 525.0, 488.0),
    Nd2Channel("Cy5", (255, 0, 255), 670.0, 640.0),
]


@pytest.fixture(scope="module")
def five_d(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("nd2")
    frames = np.random.default_rng(7).integers(0, 4096, (T, Z, H, W, 3), dtype=np.uint16)
    spec = Nd2Spec([("T", T), ("Z", Z)], CHANNELS, significant_bits=12, period_ms=250.0)
    return write_nd2(folder / "five.nd2", frames, spec), frames


def test_the_nd2_package_reads_the_synthesized_file(five_d: tuple[Path, np.ndarray]) -> None:
    path, frames = five_d
    with nd2.ND2File(path) as f:
        assert dict(f.sizes) == {"T": T, "Z": Z, "C": 3, "Y": H, "X": W}
        assert f.voxel_size() == (0.325, 0.325, 1.5)
        names = [c.channel.name for c in f.metadata.channels]
        assert names == ["DAPI", "GFP", "Cy5"]
        assert np.array_equal(f.asarray(), frames.transpose(0, 1, 4, 2, 3))


def test_nd2_metadata(five_d: tuple[Path, np.ndarray]) -> None:
    path, _ = five_d
    fmt = detect(path)
    assert fmt.id == "ND2" and fmt.importable
    with fmt.open(path) as source:
        m = source.metadata
    assert (m.n_concrete_channels, m.depth, m.duration, m.n_planes) == (3, Z, T, 3 * Z * T)
    assert (m.width, m.height, m.pixel_type, m.significant_bits) == (W, H, "uint16", 12)
    assert [c.suggested_name for c in m.channels] == ["DAPI", "GFP", "Cy5"]
    assert [c.color for c in m.channels] == ["#0000FF", "#00FF00", "#FF00FF"]
    assert [c.emission_wavelength for c in m.channels] == [461.0, 525.0, 670.0]
    assert [c.excitation_wavelength for c in m.channels] == [405.0, 488.0, 640.0]
    assert (m.physical_size_x, m.physical_size_y, m.physical_size_z) == (0.325, 0.325, 1.5)
    assert m.frame_rate == 4.0  # one frame every 250 ms
    assert m.objective_nominal_magnification == 20.0
    assert m.raw_metadata["ND2.Loops"] == ["TimeLoop:2", "ZStackLoop:3"]
    assert m.raw_metadata["ND2.Attributes.bitsPerComponentSignificant"] == 12


def _converted(path: Path, folder: Path) -> tuple[PyramidReader, dict]:
    with detect(path).open(path) as source:
        result = convert(source, folder / "pyramid.tif", workdir=folder)
    return PyramidReader.load(LocalStorage(folder), "pyramid.tif"), result.histogram


def test_nd2_planes_equal_the_nd2_packages_read(
    five_d: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, _ = five_d
    reader, histogram = _converted(path, tmp_path)
    with nd2.ND2File(path) as f:
        truth = f.asarray()  # (T, Z, C, Y, X)
    for t in range(T):
        for z in range(Z):
            for c in range(3):
                plane = reader.header.plane_index(c, z, t)
                got = reader.read_region(plane, 0, Region(0, 0, W, H))[..., 0]
                assert np.array_equal(got, truth[t, z, c]), (c, z, t)
    for plane in histogram["planes"]:
        values = truth[plane["t"], plane["z"], plane["c"]]
        bins = np.histogram(values, histogram["n_bins"], (0, 65536))[0]
        assert plane["channels"][0]["bins"] == bins.tolist()


def test_large_planes_go_through_the_file_backed_canvas(
    five_d: tuple[Path, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, frames = five_d
    monkeypatch.setattr(rawplanes.RawPlanes, "IN_MEMORY", 1024)
    monkeypatch.setattr("cytotile.formats.microscopy.nd2.STRIP_BYTES", W * 2 * 16)  # 16 rows
    with detect(path).open(path) as source:
        image = source.plane(2, 1, 1)
        got = np.ndarray((H, W), np.uint16, image.write_to_memory())
    assert np.array_equal(got, frames[1, 1, :, :, 2])


def test_rgb_and_float_nd2(tmp_path: Path) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (1, 40, 60, 3), dtype=np.uint8)
    brightfield = [Nd2Channel("Brightfield", (255, 255, 255), 0.0, 0.0)]
    path = write_nd2(tmp_path / "rgb.nd2", rgb, Nd2Spec([("T", 1)], brightfield, rgb=True))
    with detect(path).open(path) as source:
        m = source.metadata
        assert (m.n_concrete_channels, m.n_samples, m.n_channels) == (1, 3, 3)
        assert [c.suggested_name for c in m.channels] == ["R", "G", "B"]
        got = np.ndarray((40, 60, 3), np.uint8, source.plane().write_to_memory())
    assert np.array_equal(got, rgb[0])
    floats = np.random.default_rng(3).normal(0, 50, (2, 30, 40, 2)).astype(np.float32)
    chans = CHANNELS[:2]
    path = write_nd2(tmp_path / "f.nd2", floats, Nd2Spec([("Z", 2)], chans, z_step_um=0.5))
    with detect(path).open(path) as source:
        m = source.metadata
        assert (m.pixel_type, m.depth, m.physical_size_z) == ("float32", 2, 0.5)
        plane = source.plane(1, 1, 0)
        got = np.ndarray((30, 40), np.float32, plane.write_to_memory())
    assert np.array_equal(got, floats[1, :, :, 1])


NO_DASK = """
import sys
# absent from the import function: any import fails (lxml: nd2 falls back to xml.etree)
for name in ("dask", "ome_types", "xarray", "resource_backed_dask_array", "pydantic", "lxml"):
    sys.modules[name] = None
from pathlib import Path
from cytotile.errors import FormatError
from cytotile.formats import detect
path = Path(sys.argv[1])
with detect(path).open(path) as source:
    plane = source.plane(1, 2, 1)
    print(plane.width, plane.height, plane.avg() > 0)
loaded = {m.split(".")[0] for m, v in sys.modules.items() if v is not None}
print(" ".join(sorted(loaded - set(sys.stdlib_module_names))))
"""


def test_reading_needs_only_what_the_import_function_carries(
    five_d: tuple[Path, np.ndarray],
) -> None:
    """Reading an ND2 works with dask and ome-types unimportable, and every package it loads
    is one the import function installs (its requirements and the layer's)."""
    from importlib.metadata import packages_distributions

    from bench.sizes import canon, requirement_names

    path, _ = five_d
    done = subprocess.run(
        [sys.executable, "-c", NO_DASK, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    size, modules = done.stdout.splitlines()
    assert size.split() == [str(W), str(H), "True"]
    root = Path(__file__).resolve().parents[2]
    carried = requirement_names(
        [root / "layers/vips/requirements.txt", root / "functions/import/requirements.txt"]
    )
    owners = packages_distributions()
    for module in modules.split():
        if module in ("cytotile", "_cffi_backend", "__main__") or "cython" in module:
            continue
        dists = {canon(d) for d in owners.get(module, [])}
        assert dists & carried, f"{module} ({dists}) is not in the import function"


def test_truncated_or_missing_frames_are_refused(
    five_d: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    """The nd2 package reads a frame past the end of the file as zeros: cytotile refuses the
    file instead of importing blank planes."""
    path, _ = five_d
    data = path.read_bytes()
    cut = tmp_path / "cut.nd2"
    cut.write_bytes(data[: len(data) // 2])
    assert detect(cut).id == "ND2"
    with pytest.raises(FormatError, match="chunk map"):
        detect(cut).open(cut)
    with nd2.ND2File(path) as f:  # where frame 4 starts, as the nd2 package maps it
        offset = f._rdr.chunkmap[b"ImageDataSeq|4!"][0]  # type: ignore[attr-defined]
    short = bytearray(data)
    short[offset + 8 : offset + 16] = (8 + 100).to_bytes(8, "little")  # a 100-byte frame
    bad = tmp_path / "short.nd2"
    bad.write_bytes(bytes(short))
    with pytest.raises(FormatError, match="frame 4 "):
        detect(bad).open(bad)


def test_xy_positions_are_separate_images(tmp_path: Path) -> None:
    frames = np.random.default_rng(9).integers(0, 255, (2, 3, 2, 20, 30, 2), dtype=np.uint8)
    spec = Nd2Spec([("T", 2), ("P", 3), ("Z", 2)], CHANNELS[:2], position_names=["A1", "B2", ""])
    path = write_nd2(tmp_path / "multi.nd2", frames, spec)
    with nd2.ND2File(path) as f:
        assert dict(f.sizes) == {"T": 2, "P": 3, "Z": 2, "C": 2, "Y": 20, "X": 30}
        truth = f.asarray()  # (T, P, Z, C, Y, X)
    fmt = detect(path)
    assert fmt.images(path) == ["A1", "B2", "Position 3"]
    for p in range(3):
        with fmt.open_image(path, p) as source:
            m = source.metadata
            assert (m.n_concrete_channels, m.depth, m.duration) == (2, 2, 2)
            assert m.raw_metadata["ND2.Position"] == ["A1", "B2", "Position 3"][p]
            plane = np.ndarray((20, 30), np.uint8, source.plane(1, 1, 1).write_to_memory())
            assert np.array_equal(plane, truth[1, p, 1, 1])
    with pytest.raises(FormatError, match="no XY position 4"):
        fmt.open_image(path, 3)
    single = write_nd2(
        tmp_path / "one.nd2", frames[:, :1], Nd2Spec([("T", 2), ("P", 1), ("Z", 2)], CHANNELS[:2])
    )
    assert detect(single).images(single) == []


def test_a_multi_position_nd2_imports_as_a_collection(tmp_path: Path) -> None:
    """The whole import (isolated steps): the file's upload lists one child per XY position,
    each DEPLOYED with the position's planes."""
    from cytotile.importer.flow import import_file
    from cytotile.manifest import PYRAMID_NAME, Manifest, Status

    frames = np.random.default_rng(4).integers(0, 4000, (2, 2, 24, 32, 2), dtype=np.uint16)
    spec = Nd2Spec([("P", 2), ("Z", 2)], CHANNELS[:2], position_names=["well A", "well B"])
    path = write_nd2(tmp_path / "plate.nd2", frames, spec)
    storage = LocalStorage(tmp_path / "root")
    parent = import_file(storage, path)
    assert parent.status is Status.EXTRACTED, parent.reason
    assert len(parent.children) == 2
    for p, child in enumerate(parent.children):
        kid = Manifest.load(storage, child["id"])
        assert kid.status is Status.DEPLOYED, kid.reason
        assert kid.image is not None and kid.image["format_id"] == "ND2"
        reader = PyramidReader.load(storage, f"{kid.id}/{PYRAMID_NAME}")
        got = reader.read_region(reader.header.plane_index(1, 1, 0), 0, Region(0, 0, 32, 24))
        assert np.array_equal(got[..., 0], frames[p, 1, :, :, 1])


@pytest.mark.parametrize("variant", [{"compressed": True}, {"row_padding": 6}])
def test_compressed_frames_and_padded_rows(
    tmp_path: Path, variant: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deflated frames are inflated as a stream, a few rows at a time, as stored ones are read
    (small strips and reads here, so that a frame takes many)."""
    monkeypatch.setattr("cytotile.formats.microscopy.nd2.STRIP_BYTES", 41 * 3 * 2 * 4)
    monkeypatch.setattr(nd2frames, "READ_BYTES", 100)
    frames = np.random.default_rng(6).integers(0, 4000, (2, 30, 41, 3), dtype=np.uint16)
    path = write_nd2(tmp_path / "v.nd2", frames, Nd2Spec([("Z", 2)], CHANNELS, **variant))
    with nd2.ND2File(path) as f:
        truth = f.asarray()  # (Z, C, Y, X)
    assert np.array_equal(truth, frames.transpose(0, 3, 1, 2))
    with detect(path).open(path) as source:
        for c in range(3):
            got = np.ndarray((30, 41), np.uint16, source.plane(c, 1, 0).write_to_memory())
            assert np.array_equal(got, truth[1, c])


def test_a_deflated_frame_cut_short_is_refused(tmp_path: Path) -> None:
    frames = np.random.default_rng(8).integers(0, 4000, (1, 30, 41, 1), dtype=np.uint16)
    spec = Nd2Spec([("T", 1)], CHANNELS[:1], compressed=True)
    path = write_nd2(tmp_path / "d.nd2", frames, spec)
    offset = nd2frames.frame_offsets(path)[0]
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[offset + 8 : offset + 16], "little")
    data[offset + 8 : offset + 16] = (length - 200).to_bytes(8, "little")  # the stream's end
    path.write_bytes(bytes(data))
    with detect(path).open(path) as source, pytest.raises(FormatError, match="ends before"):
        source.plane(0, 0, 0)
