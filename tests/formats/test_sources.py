"""One suite every format passes: detection, metadata sanity, and level-0 pixels equal to the
original as read by an independent reader (OpenSlide for SVS, tifffile, Pillow or libvips)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import pyvips

from cytotile.formats import detect
from cytotile.formats.base import ImageMetadata
from tests.helpers import synth
from tests.helpers.samples import sample

Reference = Callable[[Path], np.ndarray]


def _3d(arr: np.ndarray) -> np.ndarray:
    return arr[:, :, None] if arr.ndim == 2 else arr


def by_openslide(path: Path) -> np.ndarray:
    import openslide

    with openslide.OpenSlide(str(path)) as slide:
        return np.asarray(slide.read_region((0, 0), 0, slide.dimensions))[:, :, :3]


def by_tifffile(path: Path) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        arr = page.asarray()
        if page.planarconfig == 2 and page.samplesperpixel > 1:  # separate planes: (S, H, W)
            arr = np.moveaxis(arr, 0, -1)
    return _3d(arr.astype(np.uint8) * 255 if arr.dtype == bool else arr)


def by_pillow(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return _3d(np.asarray(im.convert("RGB" if im.mode in ("P", "RGB", "YCbCr") else im.mode)))


def by_libvips(path: Path) -> np.ndarray:
    return synth.to_numpy(pyvips.Image.new_from_file(str(path)))


def on_white(reference: Reference) -> Reference:
    """Composite an alpha band onto white with numpy (independent of libvips' flatten)."""

    def read(path: Path) -> np.ndarray:
        arr = reference(path)
        top = 65535.0 if arr.dtype == np.uint16 else 255.0
        color, alpha = arr[:, :, :-1].astype(float), arr[:, :, -1:].astype(float) / top
        return np.round(color * alpha + top * (1 - alpha)).astype(arr.dtype)

    return read


@dataclass(frozen=True)
class Case:
    id: str
    format_id: str
    make: Callable[[Path], Path]  # tmp_path -> file
    reference: Reference
    n_channels: int
    pixel_type: str
    tolerance: float = 0.0  # mean absolute difference allowed (0: exact)

    def __str__(self) -> str:
        return self.id


def real(
    name: str, format_id: str, reference: Reference, n: int, pixel_type: str, tolerance: float = 0
) -> Case:
    return Case(name, format_id, lambda _tmp: sample(name), reference, n, pixel_type, tolerance)


def _pyramid(tmp: Path) -> Path:
    return synth.write_pyramidal_tiff(tmp / "pyramid.tif", synth.tissue(500, 300), tile=64)


def _pyramid16(tmp: Path) -> Path:
    grey = (synth.tissue(260, 190)[1] * 251).cast("ushort").copy(interpretation="grey16")
    return synth.write_pyramidal_tiff(tmp / "pyramid16.tif", grey, tile=64)


def _planar16(tmp: Path) -> Path:
    data = np.random.default_rng(3).integers(0, 65535, (129, 257), dtype=np.uint16)
    return synth.write_tiff(tmp / "grey16.tif", data)


def _planar16_rgb(tmp: Path) -> Path:
    data = np.random.default_rng(4).integers(0, 65535, (70, 90, 3), dtype=np.uint16)
    return synth.write_tiff(tmp / "rgb16.tif", data, photometric="rgb", compression="zlib")


def _rgba_tiff(tmp: Path) -> Path:
    data = np.random.default_rng(5).integers(0, 255, (40, 60, 4), dtype=np.uint8)
    return synth.write_tiff(tmp / "rgba.tif", data, photometric="rgb", extrasamples=["unassalpha"])


def _separate_planes(tmp: Path) -> Path:
    data = np.random.default_rng(6).integers(0, 255, (3, 40, 50), dtype=np.uint8)
    return synth.write_tiff(tmp / "sep.tif", data, photometric="rgb", planarconfig="separate")


def _min_is_white_1bit(tmp: Path) -> Path:
    data = np.random.default_rng(7).integers(0, 2, (40, 50)).astype(bool)
    return synth.write_tiff(tmp / "white.tif", data, photometric="miniswhite")


def by_tifffile_inverted(path: Path) -> np.ndarray:
    return 255 - by_tifffile(path)


def _jpeg_named_png(tmp: Path) -> Path:
    path = tmp / "really-a-jpeg.png"
    path.write_bytes(synth.tissue(333, 222).jpegsave_buffer(Q=85))
    return path


def _grey_alpha_png16(tmp: Path) -> Path:
    grey = (synth.tissue(120, 80)[0] * 257).cast("ushort")
    alpha = (synth.tissue(120, 80, seed=9)[2] * 257).cast("ushort")
    path = tmp / "ga16.png"
    grey.bandjoin(alpha).copy(interpretation="grey16").pngsave(str(path))
    return path


def _svs(tmp: Path) -> Path:
    return synth.write_svs(tmp / "synthetic.svs", synth.to_numpy(synth.tissue(700, 500)))


CASES = [
    real("CMU-1-Small-Region.svs", "SVS", by_openslide, 3, "uint8"),
    real("small.svs", "SVS", by_openslide, 3, "uint8"),
    real("boxes.tiff", "PYRTIFF", by_tifffile, 3, "uint8"),
    real("sample.png", "PNG", by_libvips, 3, "uint16"),
    real("rgba.png", "PNG", on_white(by_libvips), 3, "uint8", 0.5),
    real("indexed.png", "PNG", by_pillow, 3, "uint8"),
    real("sample.jpg", "JPEG", by_pillow, 3, "uint8", 1.0),
    real("libvips_sample.tif", "PLANARTIFF", by_tifffile, 3, "uint16"),
    real("chessboard_GRAY_U16.tif", "PLANARTIFF", by_tifffile, 1, "uint16"),
    real("CH1_16bit.tif", "IMAGEJTIFF", by_tifffile, 1, "uint16"),
    real("fixture-bali.tif", "PLANARTIFF", by_pillow, 3, "uint8"),
    real("subsampled.tif", "PLANARTIFF", by_pillow, 3, "uint8", 1.0),
    real("1bit.tif", "PLANARTIFF", by_tifffile, 1, "uint8"),
    Case("synthetic-svs", "SVS", _svs, by_openslide, 3, "uint8"),
    Case("synthetic-pyramid", "PYRTIFF", _pyramid, by_tifffile, 3, "uint8"),
    Case("synthetic-pyramid-uint16", "PYRTIFF", _pyramid16, by_tifffile, 1, "uint16"),
    Case("synthetic-planar-uint16", "PLANARTIFF", _planar16, by_tifffile, 1, "uint16"),
    Case("synthetic-planar-rgb16", "PLANARTIFF", _planar16_rgb, by_tifffile, 3, "uint16"),
    Case("synthetic-rgba-tiff", "PLANARTIFF", _rgba_tiff, on_white(by_tifffile), 3, "uint8", 0.5),
    Case("synthetic-separate-planes", "PLANARTIFF", _separate_planes, by_tifffile, 3, "uint8"),
    Case(
        "synthetic-1bit-min-is-white",
        "PLANARTIFF",
        _min_is_white_1bit,
        by_tifffile_inverted,
        1,
        "uint8",
    ),
    Case("synthetic-jpeg-named-png", "JPEG", _jpeg_named_png, by_pillow, 3, "uint8", 1.0),
    Case(
        "synthetic-png-grey-alpha-16",
        "PNG",
        _grey_alpha_png16,
        on_white(by_libvips),
        1,
        "uint16",
        0.5,
    ),
]


@pytest.fixture(params=CASES, ids=str)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


def regions(width: int, height: int, size: int = 256) -> list[tuple[int, int, int, int]]:
    """The whole image when small, else three windows: top-left, centre, bottom-right."""
    if width * height <= 512 * 512:
        return [(0, 0, width, height)]
    w, h = min(size, width), min(size, height)
    centre = ((width - w) // 2, (height - h) // 2, w, h)
    return [(0, 0, w, h), centre, (width - w, height - h, w, h)]


def test_detection(case: Case, tmp_path: Path) -> None:
    assert detect(case.make(tmp_path)).id == case.format_id


def test_metadata(case: Case, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    reference = case.reference(path)
    with detect(path).open(path) as source:
        meta = source.metadata
    assert meta.format_id == case.format_id
    assert (meta.height, meta.width) == reference.shape[:2]
    assert meta.n_channels == case.n_channels == meta.n_samples
    assert meta.n_concrete_channels == meta.depth == meta.duration == meta.n_planes == 1
    assert meta.pixel_type == case.pixel_type
    assert meta.significant_bits == (16 if case.pixel_type == "uint16" else 8)
    names = [c.suggested_name for c in meta.channels]
    assert names == (["R", "G", "B"] if case.n_channels == 3 else ["L"])
    for size in (meta.physical_size_x, meta.physical_size_y):
        assert size is None or size > 0
    as_json = json.loads(json.dumps(meta.to_dict()))  # goes into manifest.json
    assert ImageMetadata.from_dict(as_json) == meta
    assert meta.raw_metadata and all("." in key for key in meta.raw_metadata)


def test_plane_pixels(case: Case, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    reference = case.reference(path).astype(np.int64)
    with detect(path).open(path) as source:
        plane = source.plane()
        assert (plane.width, plane.height, plane.bands) == (
            source.metadata.width,
            source.metadata.height,
            source.metadata.n_samples,
        )
        assert plane.format == {"uint8": "uchar", "uint16": "ushort"}[case.pixel_type]
        # a sequential image is read once, top to bottom: copy it to memory first
        pixels = synth.to_numpy(plane).astype(np.int64)
    assert pixels.shape == reference.shape
    for x, y, w, h in regions(plane.width, plane.height):
        ours, theirs = pixels[y : y + h, x : x + w], reference[y : y + h, x : x + w]
        diff = np.abs(ours - theirs)
        if case.tolerance:
            assert diff.mean() < case.tolerance, (x, y, diff.mean())
        else:
            assert not diff.any(), (x, y, int(diff.max()))


def test_single_plane_only(case: Case, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    with detect(path).open(path) as source, pytest.raises(ValueError, match="single plane"):
        source.plane(c=1)
