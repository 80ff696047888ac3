"""The C codec's pixels (``_jpegdct.half``, ``halve``, ``histogram``): level 1 at half scale from
the coefficient planes against libjpeg's full decode box-halved, the 2x2 mean and the counts
against numpy's, and bad arguments as ValueError."""

from __future__ import annotations

import io

import numpy as np
import pytest
import simplejpeg
from PIL import Image

from cytotile.importer import _jpegdct
from cytotile.importer import jpegmarkers as jm
from cytotile.importer.sourcetiles import halve
from tests.helpers.jpegtiff import texture


def planes_of(stream: bytes, shape: tuple[int, int], factors: list[int]) -> tuple[np.ndarray, ...]:
    """The stream's coefficient planes: component k's blocks cover ``factors[k]`` x 8 pixels."""
    height, width = shape
    return tuple(np.zeros((height // (8 * f), width // (8 * f), 64), np.int16) for f in factors)


def half_of(stream: bytes, shape: tuple[int, int], sub: str, ycc: bool) -> np.ndarray:
    grey = sub == "Gray"
    factors = [1] if grey else [1, 2, 2] if sub == "420" else [1, 1, 1]
    planes = planes_of(stream, shape, factors)
    tables = _jpegdct.decode(stream, planes)
    frame = jm.frame(stream)
    assert frame is not None
    quant = b"".join(tables[128 * c[3] : 128 * c[3] + 128] for c in frame.components)
    sampling = tuple((2, 2) if sub == "420" and k == 0 else (1, 1) for k in range(len(factors)))
    out = np.full((shape[0] // 2, shape[1] // 2, len(factors)), 77, np.uint8)
    counts = np.full((256, len(factors)), 5, np.int64)
    _jpegdct.half(planes, sampling, quant, ycc, out, counts)
    for b in range(len(factors)):  # added to: each sample counted once
        assert np.array_equal(counts[:, b], 5 + np.bincount(out[..., b].ravel(), minlength=256))
    return out


@pytest.mark.parametrize("sub", ["420", "444", "Gray"])
def test_half_is_the_box_mean_of_the_decode(sub: str) -> None:
    """Each block's 2x2 box means (4:2:0 chroma in full), then YCbCr -> RGB: as close to the
    box mean of libjpeg's full decode as libjpeg's own 1/2 scaled decoding."""
    pixels = texture(240, 160, seed=5)
    if sub == "Gray":
        pixels = np.ascontiguousarray(pixels[:, :, 1:2])
    space = "GRAY" if sub == "Gray" else "RGB"
    stream = simplejpeg.encode_jpeg(pixels, 75, space, sub)
    got = half_of(stream, (160, 240), sub, ycc=sub != "Gray").astype(np.int16)
    reference = halve(simplejpeg.decode_jpeg(stream, space)).astype(np.int16)
    scaled = simplejpeg.decode_jpeg(stream, space, min_height=80, min_width=120)
    ours, libjpegs = np.abs(got - reference), np.abs(scaled.astype(np.int16) - reference)
    assert float(ours.mean()) <= float(libjpegs.mean()) + 0.05  # measured: 0.96 / 0.96 (4:2:0)
    assert int(ours.max()) <= max(3, int(libjpegs.max()))
    if sub != "420":  # no chroma upsampling in the reference: within rounding
        assert float(ours.mean()) < 0.7


def test_half_of_rgb_coded_components_untransformed() -> None:
    """Components coded as they are (Aperio's RGB, Adobe transform 0): each one's box mean."""
    pixels = texture(128, 64, seed=6)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=90, subsampling=0, keep_rgb=True)
    got = half_of(out.getvalue(), (64, 128), "444", ycc=False).astype(np.int16)
    decoded = np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))
    assert float(np.abs(got - halve(decoded)).mean()) < 0.7


def idct(coefficients: np.ndarray) -> np.ndarray:
    """T.81's A.3.3 inverse DCT of one dequantized block (8x8, natural order), level-shifted."""
    u = np.arange(8)
    basis = (
        np.where(u == 0, 1 / np.sqrt(2), 1.0) / 2 * np.cos((2 * u[:, None] + 1) * u * np.pi / 16)
    )
    return basis @ coefficients.reshape(8, 8) @ basis.T + 128


def test_half_is_the_idct_box_mean_of_each_block() -> None:
    """Sparse blocks of random coefficients (dequantized by a table): the 2x2 box means of the
    exact IDCT (luma) and the IDCT itself (the 2x2-subsampled components), rounded, clamped."""
    rng = np.random.default_rng(8)
    quant = rng.integers(1, 20, (3, 64)).astype("<u2")
    planes = [np.zeros((4, 4, 64), np.int16), np.zeros((2, 2, 64), np.int16)]
    planes.append(np.zeros((2, 2, 64), np.int16))
    for plane in planes:
        for block in plane.reshape(-1, 64):
            picked = rng.choice(64, int(rng.integers(0, 12)), replace=False)
            block[picked] = rng.integers(-60, 61, picked.size)
            block[0] = rng.integers(-90, 91)
    planes[0][0, 0, 0] = 1000  # far above white: clamped
    planes[0][0, 1, :] = 0
    planes[0][0, 1, 0] = -1000  # below black
    out = np.zeros((16, 16, 3), np.uint8)
    _jpegdct.half(tuple(planes), ((2, 2), (1, 1), (1, 1)), quant.tobytes(), False, out)
    for k, plane in enumerate(planes):
        size = 4 if k == 0 else 8
        for by, bx in np.ndindex(plane.shape[:2]):
            pixels = idct(plane[by, bx] * quant[k].astype(float))
            if size == 4:
                pixels = pixels.reshape(4, 2, 4, 2).mean(axis=(1, 3))
            expected = np.clip(np.round(pixels), 0, 255)
            got = out[by * size : (by + 1) * size, bx * size : (bx + 1) * size, k]
            assert np.abs(got - expected).max() <= 1  # float rounding of halves
    assert (out[:4, :4, 0] == 255).all() and (out[:4, 4:8, 0] == 0).all()


@pytest.mark.parametrize(("width", "height"), [(37, 27), (40, 27), (37, 32), (1, 1), (9, 31)])
def test_half_pairs_an_odd_edges_last_pixels_with_themselves(width: int, height: int) -> None:
    """``edge``: the image ends inside the planes; an odd width (height) pairs its last pixel
    column (row) with itself, as the box mean of the image does, not with the padding beyond."""
    rng = np.random.default_rng(width * 100 + height)
    quant = rng.integers(1, 12, (3, 64)).astype("<u2")
    planes = tuple(np.zeros((4, 5, 64), np.int16) for _ in range(3))  # 32 x 40 pixels
    for plane in planes:
        for block in plane.reshape(-1, 64):
            picked = rng.choice(64, int(rng.integers(0, 12)), replace=False)
            block[picked] = rng.integers(-60, 61, picked.size)
            block[0] = rng.integers(-90, 91)
    out = np.zeros((16, 20, 3), np.uint8)
    _jpegdct.half(planes, ((1, 1),) * 3, quant.tobytes(), False, out, None, (width, height))
    for k, plane in enumerate(planes):
        image = np.zeros((32, 40))
        for by, bx in np.ndindex(plane.shape[:2]):
            pixels = idct(plane[by, bx] * quant[k].astype(float))
            image[by * 8 : by * 8 + 8, bx * 8 : bx * 8 + 8] = pixels
        inside = image[:height, :width]
        padded = np.pad(inside, ((0, height % 2), (0, width % 2)), mode="edge")  # self-paired
        h, w = padded.shape
        expected = np.clip(np.round(padded.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))), 0, 255)
        got = out[: h // 2, : w // 2, k]
        assert np.abs(got - expected).max() <= 1  # float rounding of halves
    with pytest.raises(ValueError, match="sampled in full"):  # 4:2:0 chroma has no such pairs
        _jpegdct.half(planes, ((2, 2), (1, 1), (1, 1)), quant.tobytes(), False, out[:8, :8],
                      None, (15, 16))  # fmt: skip
    for bad in [(0, 8), (41, 8), (8, 33), (8,), (8, 8, 8)]:
        with pytest.raises(ValueError):
            _jpegdct.half(planes, ((1, 1),) * 3, quant.tobytes(), False, out, None, bad)


def test_half_ycc_is_libjpegs_integer_conversion() -> None:
    """YCbCr -> RGB (8 pixels a vector where SSE2 is, one at a time at a row's end): libjpeg's
    16-bit fixed-point JFIF formulas exactly, on the samples ``half`` makes without it, over
    rows of every width in 4..76 and samples reaching both clamps."""
    rng = np.random.default_rng(11)
    quant = np.ones((3, 64), "<u2").tobytes()
    for width in range(4, 80, 4):
        planes = tuple(np.zeros((2, width // 4, 64), np.int16) for _ in range(3))
        for plane in planes:
            plane[..., 0] = rng.integers(-1100, 1100, plane.shape[:2])
            plane[..., 1:4] = rng.integers(-40, 41, (*plane.shape[:2], 3))
        sampling = ((1, 1),) * 3
        ycc = np.zeros((8, width, 3), np.uint8)
        _jpegdct.half(planes, sampling, quant, False, ycc)
        rgb = np.zeros((8, width, 3), np.uint8)
        counts = np.zeros((256, 3), np.int64)
        _jpegdct.half(planes, sampling, quant, True, rgb, counts)
        y, cb, cr = (ycc[..., k].astype(np.int64) for k in range(3))
        cb, cr = cb - 128, cr - 128
        expected = np.stack(
            [
                y + ((91881 * cr + 32768) >> 16),
                y + ((-22554 * cb - 46802 * cr + 32768) >> 16),
                y + ((116130 * cb + 32768) >> 16),
            ],
            axis=-1,
        )
        assert np.array_equal(rgb, np.clip(expected, 0, 255)), width
        for b in range(3):
            assert np.array_equal(counts[:, b], np.bincount(rgb[..., b].ravel(), minlength=256))
    assert (rgb == 0).any() and (rgb == 255).any()


def test_half_into_a_strided_view_writes_only_it() -> None:
    pixels = texture(64, 32, seed=7)
    stream = simplejpeg.encode_jpeg(pixels, 80, "RGB", "420")
    whole = half_of(stream, (32, 64), "420", ycc=True)
    planes = planes_of(stream, (32, 64), [1, 2, 2])
    tables = _jpegdct.decode(stream, planes)
    quant = tables[:128] + tables[128:256] * 2
    wide = np.zeros((16, 48, 3), np.uint8)
    _jpegdct.half(planes, ((2, 2), (1, 1), (1, 1)), quant, True, wide[:, :32])
    assert np.array_equal(wide[:, :32], whole) and not wide[:, 32:].any()


@pytest.mark.parametrize("bands", [3, 4])
def test_half_components_interleaved_and_counted_at_every_width(bands: int) -> None:
    """Components as they are (RGB-coded, CMYK): each band the plane's own half (as one band
    alone), its samples counted, flat runs and texture alike, at every width of whole blocks."""
    rng = np.random.default_rng(bands)
    planes = tuple(np.zeros((2, 19, 64), np.int16) for _ in range(bands))
    for k, q in enumerate(planes):
        q[:, :, 0] = rng.integers(-60, 60, (2, 19)) * (k + 1)
        q[:, 5:12, 0] = 40 * k  # flat: DC only
        q[:, 12:, 1:10] = rng.integers(-20, 20, (2, 7, 9))
    quant = np.full(64, 3, "<u2").tobytes() * bands
    for cols in range(4, 77, 4):
        out = np.zeros((8, cols, bands), np.uint8)
        counts = np.full((256, bands), 2, np.int64)
        _jpegdct.half(planes, ((1, 1),) * bands, quant, False, out, counts)
        for k in range(bands):
            alone = np.zeros((8, cols, 1), np.uint8)
            _jpegdct.half(planes[k : k + 1], ((1, 1),), quant[:128], False, alone)
            assert np.array_equal(out[..., k], alone[..., 0]), (cols, k)
            assert np.array_equal(counts[:, k], 2 + np.bincount(alone.ravel(), minlength=256))
    assert len(np.unique(out)) > 20  # the widest: flat and textured blocks


@pytest.mark.parametrize("shape", [(6, 8), (7, 9), (1, 1), (2, 5)])
@pytest.mark.parametrize("bands", [1, 3])
def test_halve_is_numpys(shape: tuple[int, int], bands: int) -> None:
    rng = np.random.default_rng(shape[0] * shape[1] * bands)
    wide = rng.integers(0, 256, (shape[0], shape[1] + 3, bands), dtype=np.uint8)
    src = wide[:, : shape[1]]  # a strided view
    dst = np.empty((-(-shape[0] // 2), -(-shape[1] // 2), bands), np.uint8)
    _jpegdct.halve(src, dst)
    assert np.array_equal(dst, halve(np.ascontiguousarray(src)))


@pytest.mark.parametrize("bands", [1, 3])
def test_histogram_adds_weighted_counts(bands: int) -> None:
    rng = np.random.default_rng(bands)
    wide = rng.integers(0, 256, (37, 50, bands), dtype=np.uint8)
    pixels = wide[:, 3:41]
    counts = np.ones((256, bands), np.int64)
    _jpegdct.histogram(pixels, counts, 4)
    for b in range(bands):
        expected = 1 + 4 * np.bincount(pixels[..., b].ravel(), minlength=256)
        assert np.array_equal(counts[:, b], expected)


def test_bad_arguments() -> None:
    planes = tuple(np.zeros((2, 2, 64), np.int16) for _ in range(3))
    quant = bytes(128 * 3)
    out = np.zeros((8, 8, 3), np.uint8)
    ok = ((1, 1),) * 3
    _jpegdct.half(planes, ok, quant, True, out)
    with pytest.raises(ValueError, match="quant"):
        _jpegdct.half(planes, ok, quant[:-1], True, out)
    with pytest.raises(ValueError, match="larger"):
        _jpegdct.half(planes, ok, quant, True, np.zeros((16, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="MCU"):
        _jpegdct.half(planes, ((2, 2), (1, 1), (1, 1)), quant, True, out[:4, :4])
    with pytest.raises(ValueError, match="upsampling"):  # 4:2:2
        _jpegdct.half(planes, ((2, 1), (1, 1), (1, 1)), quant, True, out)
    with pytest.raises(ValueError, match="one band a plane"):
        _jpegdct.half(planes, ok, quant, True, np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(ValueError, match="sampling"):
        _jpegdct.half(planes, ok[:2], quant, True, out)
    with pytest.raises(ValueError, match="out"):
        _jpegdct.half(planes, ok, quant, True, out.astype(np.int16))
    with pytest.raises(ValueError, match="out"):
        _jpegdct.half(planes, ok, quant, True, out[:, ::2])  # pixels not contiguous
    with pytest.raises(ValueError, match="writable"):
        readonly = out.copy()
        readonly.flags.writeable = False
        _jpegdct.half(planes, ok, quant, True, readonly)
    with pytest.raises(ValueError, match="counts"):
        _jpegdct.half(planes, ok, quant, True, out, np.zeros((256, 2), np.int64))
    with pytest.raises(ValueError, match="dst"):
        _jpegdct.halve(out, np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="dst"):
        _jpegdct.halve(out, np.zeros((4, 4, 1), np.uint8))
    with pytest.raises(ValueError, match="counts"):
        _jpegdct.histogram(out, np.zeros((256, 1), np.int64), 1)
    with pytest.raises(ValueError, match="counts"):
        _jpegdct.histogram(out, np.zeros((256, 3), np.int32), 1)
