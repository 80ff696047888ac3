"""Microscopy formats: OME-TIFF (planar, pyramidal with SubIFDs, any DimensionOrder), ImageJ
hyperstacks and composites, CZI, multi-page stacks, LIF/ND2 detection; planes equal the file's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from cytotile.errors import FormatError
from cytotile.formats import detect
from tests.helpers.samples import sample

C, Z, T, H, W = 5, 3, 2, 200, 300


def ome_pyramid(path: Path, data: np.ndarray, axes: str = "TCZYX", levels: int = 3) -> Path:
    """A pyramidal OME-TIFF: level 0 in the main IFDs, reduced levels in SubIFDs."""
    meta = {
        "axes": axes,
        "PhysicalSizeX": 0.325,
        "PhysicalSizeY": 0.325,
        "PhysicalSizeZ": 2.0,
        "TimeIncrement": 0.5,
        "Channel": {
            "Name": [f"ch{i}" for i in range(C)],
            "EmissionWavelength": [450 + 50 * i for i in range(C)],
        },
    }
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        opts = {"tile": (128, 128), "compression": "zlib", "photometric": "minisblack"}
        tif.write(data, subifds=levels - 1, metadata=meta, **opts)
        for level in range(1, levels):
            f = 2**level
            tif.write(data[..., ::f, ::f], subfiletype=1, metadata=None, **opts)
    return path


@pytest.fixture(scope="module")
def stack16() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 65535, size=(T, C, Z, H, W), dtype=np.uint16)


def test_pyramidal_ome_tiff_16bit(tmp_path: Path, stack16: np.ndarray) -> None:
    path = ome_pyramid(tmp_path / "p.ome.tif", stack16)
    fmt = detect(path)
    assert fmt.id == "OMETIFF"
    with fmt.open(path) as source:
        m = source.metadata
        assert (m.n_concrete_channels, m.depth, m.duration, m.n_planes) == (C, Z, T, C * Z * T)
        assert (m.width, m.height, m.pixel_type, m.significant_bits) == (W, H, "uint16", 16)
        assert m.physical_size_x == pytest.approx(0.325)
        assert m.physical_size_z == pytest.approx(2.0)
        assert m.frame_rate == pytest.approx(2.0)
        assert [ch.suggested_name for ch in m.channels] == [f"ch{i}" for i in range(C)]
        assert m.channels[2].emission_wavelength == 550
        assert m.channels[0].color == "#FF0000"  # PIMS's default palette (C <= 6)
        assert m.raw_metadata["OME.Pixels.DimensionOrder"]
        for c, z, t in [(0, 0, 0), (4, 2, 1), (2, 1, 0)]:
            plane = source.plane(c, z, t).numpy()
            assert np.array_equal(plane, stack16[t, c, z])


@pytest.mark.parametrize("axes", ["ZCTYX", "CTZYX"])
def test_any_dimension_order(tmp_path: Path, axes: str) -> None:
    sizes = {"C": 2, "Z": 3, "T": 2}
    data = np.arange(np.prod([sizes[a] for a in axes[:3]]) * 16 * 24, dtype=np.uint16)
    data = data.reshape(*[sizes[a] for a in axes[:3]], 16, 24)
    path = tmp_path / "o.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": axes}, photometric="minisblack")
    with detect(path).open(path) as source:
        m = source.metadata
        assert (m.n_concrete_channels, m.depth, m.duration) == (2, 3, 2)
        for c, z, t in [(1, 2, 1), (0, 1, 1), (1, 0, 0)]:
            where = {"C": c, "Z": z, "T": t}
            expected = data[tuple(where[a] for a in axes[:3])]
            assert np.array_equal(source.plane(c, z, t).numpy(), expected)


def test_imagej_composite(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 2 * 20 * 30, dtype=np.uint16).reshape(2, 3, 2, 20, 30)  # TZCYX
    luts = [np.zeros((3, 256), np.uint8) for _ in range(2)]
    luts[0][1] = np.arange(256)  # green
    luts[1][0] = luts[1][2] = np.arange(256)  # magenta
    path = tmp_path / "c.tif"
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(2.0, 2.0),
        metadata={
            "axes": "TZCYX",
            "mode": "composite",
            "LUTs": luts,
            "unit": "um",
            "spacing": 1.5,
            "finterval": 0.25,
        },
    )
    fmt = detect(path)
    assert fmt.id == "IMAGEJTIFF"
    with fmt.open(path) as source:
        m = source.metadata
        assert (m.n_concrete_channels, m.depth, m.duration, m.pixel_type) == (2, 3, 2, "uint16")
        assert [ch.color for ch in m.channels] == ["#00FF00", "#FF00FF"]
        assert m.physical_size_x == pytest.approx(0.5)
        assert m.physical_size_z == pytest.approx(1.5)
        assert m.frame_rate == pytest.approx(4.0)
        assert m.raw_metadata["IMAGEJ.mode"] == "composite"
        assert np.array_equal(source.plane(1, 2, 1).numpy(), data[1, 2, 1])


SAMPLES = {  # name: (format, C, Z, T, n_samples, pixel type, channel names)
    "multi-channel-z-series.ome.tif": ("OMETIFF", 3, 5, 1, 1, "uint8", ["R", "G", "B"]),
    "viv-multi-channel.ome.tif": ("OMETIFF", 3, 1, 1, 1, "uint8", ["R", "G", "B"]),
    "CellDivision_T3_Z5_CH2_X240_Y170.czi": ("CZI", 2, 5, 3, 1, "uint16", ["LED555", "LED470"]),
    "_blobs_3d_fiji_skeleton.tif": ("IMAGEJTIFF", 1, 30, 1, 1, "uint8", ["L"]),
    "CH1_16bit.tif": ("IMAGEJTIFF", 1, 1, 1, 1, "uint16", ["L"]),
    "chessboard_GRAY_U16.tif": ("PLANARTIFF", 1, 1, 1, 1, "uint16", ["L"]),
    "libvips_sample.tif": ("PLANARTIFF", 1, 1, 1, 3, "uint16", ["R", "G", "B"]),
}


def reference_plane(path: Path, fmt: str, c: int, z: int, t: int) -> np.ndarray:
    """The plane read with tifffile / czifile, in the served type (signed shifted)."""
    if fmt == "CZI":
        import czifile

        return czifile.imread(str(path))[0, t, c, z, :, :, 0]
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data, axes = series.asarray(), series.axes
    where = {"C": c, "Z": z, "T": t}
    plane = data[tuple(where.get(a, slice(None)) for a in axes if a not in "YXS")]
    if plane.dtype == np.int8:
        plane = (plane.astype(np.int16) + 128).astype(np.uint8)
    return plane


INT8_SAMPLES = ("multi-channel-z-series.ome.tif", "viv-multi-channel.ome.tif")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_samples(name: str) -> None:
    path = sample(name)
    fmt_id, c, z, t, s, ptype, names = SAMPLES[name]
    fmt = detect(path)
    assert fmt.id == fmt_id
    with fmt.open(path) as source:
        m = source.metadata
        assert (m.n_concrete_channels, m.depth, m.duration, m.n_samples) == (c, z, t, s)
        assert m.pixel_type == ptype
        # the file's own type when signed (stored shifted to ptype)
        assert m.sample_type == ("int8" if name in INT8_SAMPLES else None)
        assert [ch.suggested_name for ch in m.channels] == names
        last = (c - 1, z - 1, t - 1)
        plane = source.plane(*last).numpy()
        assert np.array_equal(
            plane.reshape(plane.shape[0], plane.shape[1], -1),
            reference_plane(path, fmt_id, *last).reshape(plane.shape[0], plane.shape[1], -1),
        )


def test_czi_metadata() -> None:
    with detect(path := sample("CellDivision_T3_Z5_CH2_X240_Y170.czi")).open(path) as source:
        m = source.metadata
    assert m.significant_bits == 14
    assert m.channels[0].emission_wavelength == 568 and m.channels[0].color == "#FF7E00"
    assert m.physical_size_x and 0.09 < m.physical_size_x < 0.091
    assert m.raw_metadata["CZI.Image.PixelType"] == "Gray16"
    assert m.frame_rate == pytest.approx(1 / 60.075)  # T offsets 0, 60.075, 120.15 s


def test_lif_and_nd2_detected_by_content(tmp_path: Path) -> None:
    nd2 = tmp_path / "x.bin"
    nd2.write_bytes(
        b"\xda\xce\xbe\x0a" + b"\0" * 12 + b"ND2 FILE SIGNATURE CHUNK NAME01!" + b"\0" * 64
    )
    fmt = detect(nd2)
    assert fmt.id == "ND2" and fmt.importable  # reading: tests/formats/test_nd2.py
    lif = tmp_path / "y.bin"
    xml = "<LMSDataContainerHeader Version='2'>".encode("utf-16-le")
    lif.write_bytes(b"\x70\0\0\0" + len(xml).to_bytes(4, "little") + b"\x2a" + b"\0" * 4 + xml)
    assert detect(lif).id == "LIF"


def test_multipage_stack_is_z(tmp_path: Path) -> None:
    data = np.arange(4 * 10 * 12, dtype=np.uint16).reshape(4, 10, 12)
    path = tmp_path / "s.tif"
    tifffile.imwrite(path, data, photometric="minisblack", metadata=None)
    with detect(path).open(path) as source:
        assert source.metadata.depth == 4
        assert np.array_equal(source.plane(0, 3, 0).numpy(), data[3])


MULTI_FILE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="urn:uuid:{a}">
<Image ID="Image:0" Name="two files"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16"
 SizeX="40" SizeY="30" SizeZ="1" SizeC="2" SizeT="1" PhysicalSizeX="650" PhysicalSizeXUnit="nm">
<Channel ID="Channel:0:0" SamplesPerPixel="1" Name="DAPI" Color="-16776961"/>
<Channel ID="Channel:0:1" SamplesPerPixel="1" Name="GFP" Color="-16711681"/>
<TiffData FirstC="0" IFD="0" PlaneCount="1">
<UUID FileName="a.ome.tif">urn:uuid:{a}</UUID></TiffData>
<TiffData FirstC="1" IFD="0" PlaneCount="1">
<UUID FileName="b.ome.tif">urn:uuid:{b}</UUID></TiffData>
</Pixels></Image></OME>"""


def test_multi_file_ome_tiff(tmp_path: Path) -> None:
    """Planes in files named by the OME-XML's TiffData UUIDs, found beside the named file."""
    a, b = "1" * 8 + "-1111-1111-1111-" + "1" * 12, "2" * 8 + "-2222-2222-2222-" + "2" * 12
    xml = MULTI_FILE_XML.format(a=a, b=b)
    planes = np.arange(2 * 30 * 40, dtype=np.uint16).reshape(2, 30, 40)
    for name, plane in (("a.ome.tif", planes[0]), ("b.ome.tif", planes[1])):
        tifffile.imwrite(
            tmp_path / name, plane, description=xml, metadata=None, photometric="minisblack"
        )
    path = tmp_path / "a.ome.tif"
    with detect(path).open(path) as source:
        m = source.metadata
        assert (m.n_concrete_channels, m.pixel_type) == (2, "uint16")
        assert [(c.suggested_name, c.color) for c in m.channels] == [
            ("DAPI", "#FF0000"),
            ("GFP", "#FF00FF"),
        ]
        assert m.physical_size_x == pytest.approx(0.65)
        assert np.array_equal(source.plane(1).numpy(), planes[1])


def test_czi_large_planes_through_a_mapped_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planes over the in-memory limit are assembled in a temporary raw file (bounded RAM)."""
    import czifile

    from cytotile.formats.microscopy.rawplanes import RawPlanes

    monkeypatch.setattr(RawPlanes, "IN_MEMORY", 0)
    path = sample("CellDivision_T3_Z5_CH2_X240_Y170.czi")
    reference = czifile.imread(str(path))
    with detect(path).open(path) as source:
        for c, z, t in [(0, 0, 0), (1, 3, 2), (0, 4, 1)]:
            plane = source.plane(c, z, t).numpy()
            assert np.array_equal(plane, reference[0, t, c, z, :, :, 0])


def write_lif(path: Path, series: list[np.ndarray], luts: tuple[str, ...]) -> Path:
    """A minimal Leica LIF (version-2 header, one memory block per series) of (Z, C, H, W)
    uint16 stacks, laid out as LAS X writes them: X, Y, channels, then Z."""
    import struct

    elements, blocks = "", b""
    for k, data in enumerate(series):
        n_z, n_c, h, w = data.shape
        chans = "".join(
            f'<ChannelDescription Resolution="16" BytesInc="{c * w * h * 2}" LUTName="{luts[c]}"/>'
            for c in range(n_c)
        )
        dims = (
            f'<DimensionDescription DimID="1" NumberOfElements="{w}" Length="{(w - 1) * 5e-7}"'
            ' BytesInc="2"/>'
            f'<DimensionDescription DimID="2" NumberOfElements="{h}" Length="{(h - 1) * 5e-7}"'
            f' BytesInc="{2 * w}"/>'
            f'<DimensionDescription DimID="3" NumberOfElements="{n_z}" Length="{(n_z - 1) * 2e-6}"'
            f' BytesInc="{2 * w * h * n_c}"/>'
        )
        elements += (
            f'<Element Name="Series{k}"><Data><Image><ImageDescription><Channels>{chans}'
            f"</Channels><Dimensions>{dims}</Dimensions></ImageDescription></Image></Data>"
            f'<Memory Size="{data.nbytes}" MemoryBlockID="MemBlock_{k}"/><Children/></Element>'
        )
        name = f"MemBlock_{k}".encode("utf-16-le")
        blocks += b"\x70\0\0\0" + bytes(4) + b"\x2a" + struct.pack("<I", data.nbytes)
        blocks += b"\x2a" + struct.pack("<I", len(name) // 2) + name + data.tobytes()
    xml = (
        '<LMSDataContainerHeader Version="2"><Element Name="x.lif"><Children>'
        f"{elements}</Children></Element></LMSDataContainerHeader>"
    )
    text = xml.encode("utf-16-le")
    head = b"\x70\0\0\0" + struct.pack("<I", len(text) + 5) + b"\x2a" + struct.pack("<I", len(xml))
    path.write_bytes(head + text + blocks)
    return path


def test_lif_first_series(tmp_path: Path) -> None:
    first = np.arange(3 * 2 * 20 * 30, dtype=np.uint16).reshape(3, 2, 20, 30)
    second = np.zeros((1, 2, 8, 8), dtype=np.uint16)
    path = write_lif(tmp_path / "x.lif", [first, second], ("Green", "Red"))
    fmt = detect(path)
    assert fmt.id == "LIF"
    with fmt.open(path) as source:
        m = source.metadata
        assert (m.n_concrete_channels, m.depth, m.duration, m.pixel_type) == (2, 3, 1, "uint16")
        assert [c.color for c in m.channels] == ["#00FF00", "#FF0000"]
        assert m.physical_size_x == pytest.approx(0.5) and m.physical_size_z == pytest.approx(2)
        assert m.raw_metadata["LIF.Series"] == ["Series0", "Series1"]
        assert m.raw_metadata["LIF.SeriesIndex"] == 0  # each series: tests/importer/test_series.py
        for c, z in [(0, 0), (1, 2), (0, 1)]:
            assert np.array_equal(source.plane(c, z, 0).numpy(), first[z, c])


def test_imagej_contiguous_planes_after_one_ifd(tmp_path: Path) -> None:
    """ImageJ's large stacks: one IFD, every plane stored contiguously after it (mapped)."""
    data = np.arange(4 * 2 * 30 * 40, dtype=np.uint16).reshape(4, 2, 30, 40)
    path = tmp_path / "truncated.tif"
    tifffile.imwrite(path, data, imagej=True, truncate=True, metadata={"axes": "ZCYX"})
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1
    with detect(path).open(path) as source:
        assert (source.metadata.n_concrete_channels, source.metadata.depth) == (2, 4)
        assert np.array_equal(source.plane(1, 3, 0).numpy(), data[3, 1])


def test_plane_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cytotile.formats.microscopy import planes

    monkeypatch.setattr(planes, "MAX_PLANES", 5)
    path = tmp_path / "o.ome.tif"
    data = np.zeros((2, 3, 8, 8), np.uint8)
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CZYX"}, photometric="minisblack")
    with pytest.raises(FormatError, match="6 planes"):
        detect(path).open(path)


@pytest.mark.parametrize("tiled", [True, False])
def test_codec_libvips_lacks_decoded_piece_by_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiled: bool
) -> None:
    """ZStandard pages: tifffile decodes them tile by tile (or strip by strip) into a file-backed
    canvas (here forced for every plane), whatever the layout of the samples."""
    from cytotile.formats.microscopy.rawplanes import RawPlanes

    monkeypatch.setattr(RawPlanes, "IN_MEMORY", 0)
    data = np.random.default_rng(2).integers(0, 65535, (2, 3, 100, 150), dtype=np.uint16)
    path = tmp_path / "zstd.ome.tif"
    layout = {"tile": (64, 64)} if tiled else {"rowsperstrip": 16}
    tifffile.imwrite(
        path,
        data,
        ome=True,
        metadata={"axes": "CZYX"},
        compression="zstd",
        photometric="minisblack",
        **layout,
    )
    with detect(path).open(path) as source:
        for c, z in [(0, 0), (1, 2), (1, 1)]:
            assert np.array_equal(source.plane(c, z, 0).numpy(), data[c, z])
    rgb = np.random.default_rng(3).integers(0, 255, (2, 70, 90, 3), dtype=np.uint8)
    path = tmp_path / "rgb.ome.tif"
    tifffile.imwrite(
        path,
        np.ascontiguousarray(np.moveaxis(rgb, -1, 1)),  # stored as separate planes
        ome=True,
        metadata={"axes": "ZSYX"},
        compression="zstd",
        photometric="rgb",
        planarconfig="separate",
        **layout,
    )
    with detect(path).open(path) as source:
        assert source.metadata.n_samples == 3
        assert np.array_equal(source.plane(0, 1, 0).numpy(), rgb[1])
