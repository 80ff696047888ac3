"""Vendor TIFF formats read through OpenSlide: detection by content (and what does not match),
level 0 offered to the DCT re-tiler when it is a JPEG-tiled page as OpenSlide gives it, PIMS
metadata with upper-case raw namespaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytotile.formats import detect
from cytotile.importer.convert import convert
from cytotile.pyramid import Pyramid
from cytotile.storage.local import LocalStorage
from cytotile.tiff.reader import PyramidReader
from tests.helpers import leica_ventana, synth, vendors


def test_philips_and_bif_level0_are_copied_in_the_dct_domain(tmp_path: Path) -> None:
    import openslide

    for path in (
        vendors.write_philips(tmp_path / "p.tiff", vendors.tissue(600, 400)),
        leica_ventana.write_bif(tmp_path / "v.bif", vendors.tissue(512, 512)),
    ):
        with detect(path).open(path) as source:
            assert source.tiff_page is not None
            result = convert(source, tmp_path / f"{path.stem}.pyr.tif", workdir=tmp_path)
        assert result.method == "dct-retile", path
        reader = PyramidReader.load(LocalStorage(tmp_path), f"{path.stem}.pyr.tif")
        tile = reader.read_tile(0, 0, 1, 1)[:, :, :3].astype(int)
        with openslide.OpenSlide(str(path)) as slide:
            size = (tile.shape[1], tile.shape[0])  # an edge tile may be partial
            theirs = np.asarray(slide.read_region((256, 256), 0, size))[:, :, :3]
        assert np.abs(tile - theirs).max() <= 2  # the source's own coefficients


def test_scn_level0_with_margins_is_re_encoded(tmp_path: Path) -> None:
    path = leica_ventana.write_scn(tmp_path / "s.scn", vendors.tissue(300, 200), 2)
    with detect(path).open(path) as source:
        meta = source.metadata
        assert source.tiff_page is None  # level 0 is the collection: margins around the scan
        assert (meta.width, meta.height) == (300 + 32, 200 + 32)
        corner = synth.to_numpy(source.plane().crop(0, 0, 8, 8))
    assert (corner == 255).all()  # outside the scanned area: white, as OpenSlide's transparent


def test_raw_metadata_namespaces_are_upper_case(tmp_path: Path) -> None:
    path = vendors.write_philips(tmp_path / "p.tiff", vendors.tissue(300, 200), 2)
    with detect(path).open(path) as source:
        raw = source.metadata.raw_metadata
    assert raw["OPENSLIDE.vendor"] == "philips"
    assert raw["PHILIPS.DICOM_MANUFACTURER"] == "PHILIPS"
    assert all(key.split(".", 1)[0].isupper() for key in raw)


def test_look_alikes_are_not_vendor_files(tmp_path: Path) -> None:
    import tifffile

    base = vendors.tissue(64, 64)
    not_philips = tmp_path / "a.tif"  # Philips software, no DPUfsImport XML
    tifffile.imwrite(
        not_philips,
        base,
        software="Philips DP v1.0",
        description="<x/>",
        photometric="rgb",
        metadata=None,
    )
    not_scn = tmp_path / "b.tif"  # an <scn> element in another namespace
    tifffile.imwrite(
        not_scn, base, description='<scn xmlns="urn:other"/>', photometric="rgb", metadata=None
    )
    for path in (not_philips, not_scn):
        assert detect(path).id == "PLANARTIFF"


@pytest.mark.parametrize("photometric", ["separated", "cielab"])
def test_tiled_tiffs_only_openslide_decodes(tmp_path: Path, photometric: str) -> None:
    import openslide
    import tifffile

    samples = 4 if photometric == "separated" else 3
    data = np.random.default_rng(2).integers(0, 255, (200, 300, samples), dtype=np.uint8)
    path = tmp_path / "t.tif"
    tifffile.imwrite(
        path, data, tile=(128, 128), photometric=photometric, compression="zlib", metadata=None
    )
    fmt = detect(path)
    assert fmt.id == "OPENSLIDETIFF"
    with fmt.open(path) as source:
        pixels = synth.to_numpy(source.plane())
    with openslide.OpenSlide(str(path)) as slide:
        expected = np.asarray(slide.read_region((0, 0), 0, slide.dimensions))[:, :, :3]
    np.testing.assert_array_equal(pixels, expected)


def test_full_pyramid_matches_the_slide(tmp_path: Path) -> None:
    path = vendors.write_zstd_tiff(tmp_path / "z.tif", vendors.tissue(300, 200))
    with detect(path).open(path) as source:
        result = convert(source, tmp_path / "z.pyr.tif", workdir=tmp_path)
    assert result.n_tiers == Pyramid(300, 200).n_tiers
