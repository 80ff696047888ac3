"""Conformance cases of the common formats: JPEG 2000 (JP2 and J2K, 8/16-bit, grey, RGB, alpha),
WebP (lossy, lossless, alpha), BMP (1/4/8-bit palettes, 16/24/32-bit, top-down, bottom-up,
RLE8, alpha bit fields), Netpbm (PBM/PGM/PPM, ASCII and binary, 8/16-bit), CMYK and YCCK JPEG,
GIF. References: imagecodecs for what cytotile reads with Pillow, Pillow for what it reads with
libvips or its own parser, numpy for what neither reads exactly (16-bit PPM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvips

from tests.formats.conformance.case import Case, real, register
from tests.formats.conformance.references import ArrayReference, PillowReference
from tests.formats.pillow import writers
from tests.helpers import synth


class ImagecodecsReference(ArrayReference):
    """imagecodecs (its own OpenJPEG, BMP and GIF decoders), by content."""

    def read(self) -> np.ndarray:
        import imagecodecs

        data = self.path.read_bytes()
        if data.startswith(b"BM"):
            return imagecodecs.bmp_decode(data)
        if data.startswith(b"GIF"):
            return imagecodecs.gif_decode(data)[..., :3]
        return imagecodecs.jpeg2k_decode(data)


class NetpbmReference(ArrayReference):
    """A binary PGM/PPM read with numpy, by the specification (big-endian 16-bit samples)."""

    def read(self) -> np.ndarray:
        data = self.path.read_bytes()
        header = b" ".join(line.split(b"#")[0] for line in data.split(b"\n")[:4])
        fields = header.split()
        width, height, maxval = (int(v) for v in fields[1:4])
        bands = 3 if fields[0] == b"P6" else 1
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        raw = data[len(data) - width * height * bands * dtype.itemsize :]
        return (
            np.frombuffer(raw, dtype).astype(dtype.newbyteorder("=")).reshape(height, width, bands)
        )


class Pillow16Reference(ArrayReference):
    """Pillow's 32-bit "I" image of a 16-bit PGM, as uint16."""

    def read(self) -> np.ndarray:
        from PIL import Image

        with Image.open(self.path) as im:
            return np.asarray(im).astype(np.uint16)


class BilevelReference(ArrayReference):
    """Pillow's bilevel ("1") image as 8-bit grey: black 0, white 255."""

    def read(self) -> np.ndarray:
        from PIL import Image

        with Image.open(self.path) as im:
            return np.asarray(im.convert("L"))


def _tissue(width: int, height: int, seed: int = 1) -> np.ndarray:
    return synth.to_numpy(synth.tissue(width, height, seed=seed))


def _alpha(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return ((x * 255 // max(width - 1, 1) + y) % 256).astype(np.uint8)


def _j2k(name: str, pixels: np.ndarray, codec: str, **kw: object) -> Case:
    def make(folder: Path) -> Path:
        import imagecodecs

        path = folder / name
        path.write_bytes(imagecodecs.jpeg2k_encode(pixels, codecformat=codec, **kw))
        return path

    n = 1 if pixels.ndim == 2 or pixels.shape[2] in (1, 2) else 3
    pixel_type = "uint16" if pixels.dtype == np.uint16 else "uint8"
    return Case(
        name,
        "JPEG2000",
        make,
        PillowReference if n == 1 else ImagecodecsReference,
        n_channels=n,
        pixel_type=pixel_type,
    )


def _grey16() -> np.ndarray:
    return _tissue(300, 200)[:, :, 1].astype(np.uint16) * 251 + 17


def _rgb16() -> np.ndarray:
    return _tissue(260, 170).astype(np.uint16) * 257


def _rgba() -> np.ndarray:
    return np.dstack([_tissue(240, 150), _alpha(240, 150)])


def _webp(name: str, pixels: np.ndarray, **options: object) -> Case:
    def make(folder: Path) -> Path:
        path = folder / name
        image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels))
        image.copy(interpretation="srgb").webpsave(str(path), **options)
        return path

    return Case(name, "WEBP", make, PillowReference)


def _bmp(name: str, pixels: np.ndarray, n: int = 3, **kw: object) -> Case:
    def make(folder: Path) -> Path:
        return writers.bmp(folder / name, pixels, **kw)  # type: ignore[arg-type]

    return Case(
        name,
        "BMP",
        make,
        ImagecodecsReference if not kw.get("rle8") else PillowReference,
        n_channels=n,
    )


def _indices(width: int, height: int, colours: int) -> np.ndarray:
    return (_tissue(width, height)[:, :, 0].astype(np.int64) * colours // 256).astype(np.uint8)


def _ramp(colours: int) -> np.ndarray:
    return np.array([[v, v, v] for v in np.linspace(0, 255, colours).astype(int)])


def _hues(colours: int) -> np.ndarray:
    return np.array([[(i * 37) % 256, (i * 91) % 256, (i * 53) % 256] for i in range(colours)])


def _pnm(name: str, pixels: np.ndarray, maxval: int, ascii: bool, reference: type) -> Case:
    def make(folder: Path) -> Path:
        return writers.pnm(folder / name, pixels, maxval=maxval, ascii=ascii, comment="synthetic")

    return Case(
        name,
        "PPM",
        make,
        reference,
        n_channels=3 if pixels.ndim == 3 else 1,
        pixel_type="uint16" if maxval > 255 else "uint8",
        metadata={"description": "synthetic", "raw:PPM.MaxValue": maxval},
    )


def _pbm(name: str, ascii: bool) -> Case:
    bits = (_tissue(203, 97)[:, :, 0] < 140).astype(np.uint8)
    return Case(
        name,
        "PPM",
        lambda folder: writers.pbm(folder / name, bits, ascii=ascii),
        BilevelReference,
        n_channels=1,
    )


def _cmyk(name: str, colourspace: str) -> Case:
    def make(folder: Path) -> Path:
        import imagecodecs

        rgb = _tissue(310, 205).astype(np.int64)
        k = 255 - rgb.max(axis=2)
        cmy = (255 - rgb - k[..., None]) * 255 // np.maximum(255 - k[..., None], 1)
        cmyk = np.dstack([cmy, k]).astype(np.uint8)
        path = folder / name
        path.write_bytes(
            imagecodecs.jpeg8_encode(cmyk, level=92, colorspace="CMYK", outcolorspace=colourspace)
        )
        return path

    return Case(name, "JPEG", make, PillowReference, metadata={"raw:jpeg.Components": 4})


def _gif(folder: Path) -> Path:
    path = folder / "palette.gif"
    synth.tissue(230, 140).gifsave(str(path))
    return path


def _pillow_webp(folder: Path) -> Path:  # Pillow writes VP8X + ALPH for a lossy RGBA image
    from PIL import Image

    path = folder / "alpha-lossy.webp"
    Image.fromarray(_rgba(), "RGBA").save(path, "WEBP", quality=90)
    return path


register(
    real("world.jp2", "JPEG2000", ImagecodecsReference),
    real("fixture.jp2", "JPEG2000", ImagecodecsReference),
    real("Bretagne2_4.j2k", "JPEG2000", ImagecodecsReference),
    _j2k("grey16.j2k", _grey16(), "J2K", reversible=True),
    _j2k("rgb16.jp2", _rgb16(), "JP2", reversible=True),
    _j2k("rgba.jp2", _rgba(), "JP2", reversible=True),
    _j2k("grey8-lossy.jp2", _tissue(333, 211)[:, :, 2], "JP2", level=40),
    real("1.webp", "WEBP", PillowReference),
    real("fixture.webp", "WEBP", PillowReference),
    _webp("lossless.webp", _tissue(301, 207), lossless=True),
    _webp("alpha-lossless.webp", _rgba(), lossless=True),
    Case("alpha-lossy.webp", "WEBP", _pillow_webp, PillowReference),
    real("small.bmp", "BMP", ImagecodecsReference),
    real("fixture.bmp", "BMP", ImagecodecsReference),
    _bmp("palette1.bmp", _indices(203, 101, 2), n=1, bits=1, palette=_ramp(2)),
    _bmp("palette4.bmp", _indices(150, 99, 16), bits=4, palette=_hues(16)),
    _bmp(
        "grey8-top-down.bmp", _indices(211, 97, 256), n=1, bits=8, palette=_ramp(256), top_down=True
    ),
    _bmp("rle8.bmp", _indices(190, 90, 7), bits=8, palette=_hues(7), rle8=True),
    _bmp("rgb555.bmp", _tissue(130, 77), bits=16),
    _bmp("bgr-top-down.bmp", _tissue(201, 103), bits=24, top_down=True),
    _bmp("bgra-bitfields.bmp", _rgba(), bits=32, alpha_mask=True),
    real("hopper_8bit.pgm", "PPM", PillowReference, n_channels=1),
    real("hopper_16bit.pgm", "PPM", Pillow16Reference, n_channels=1, pixel_type="uint16"),
    _pnm("ascii.pgm", _tissue(150, 80)[:, :, 0], 255, True, PillowReference),
    _pnm("ascii.ppm", _tissue(120, 70), 255, True, PillowReference),
    _pnm("rgb16.ppm", _rgb16(), 65535, False, NetpbmReference),
    _pnm("maxval1000.pgm", _grey16() // 66, 1000, False, Pillow16Reference),
    _pbm("ascii.pbm", ascii=True),
    _pbm("binary.pbm", ascii=False),
    _cmyk("cmyk.jpg", "CMYK"),
    _cmyk("ycck.jpg", "YCCK"),
    Case("palette.gif", "GIF", _gif, PillowReference),
)
