"""The shared reader suite: every registered case (``cases_*.py``) is detected from its content
whatever its name, imported for real, and its dimensions, levels, metadata, associated images
and pixels (a full-resolution normalized tile and a thumbnail) agree with the original as an
independent library reads it: mean absolute difference under the case's tolerance (3 of 255)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cytotile.formats import detect
from cytotile.formats.base import ImageMetadata
from cytotile.manifest import Status
from cytotile.pyramid import Pyramid, normalized_sizes
from tests.formats.conformance.case import Case
from tests.formats.conformance.conftest import Imported, renamed
from tests.formats.conformance.references import Reference, resize
from tests.helpers.pixels import mad

THUMB = 256


@pytest.fixture
def deployed(imported: Imported) -> Imported:
    manifest = imported.manifest
    assert manifest.status is Status.DEPLOYED, (imported.case.id, manifest.reason)
    return imported


@pytest.fixture
def reference(deployed: Imported) -> Iterator[Reference]:
    ref = deployed.case.reference(deployed.original)
    try:
        yield ref
    finally:
        ref.close()


def metadata(imported: Imported) -> ImageMetadata:
    assert imported.manifest.image is not None
    return ImageMetadata.from_dict(imported.manifest.image)


def decode(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def as_served(pixels: np.ndarray, ref: Reference, case: Case) -> np.ndarray:
    """Reference pixels as a normalized 8-bit RGB answer shows them: 16-bit and float stretched
    from the image's own per-channel min/max (PIMS's AUTO_IMAGE), grey repeated in R, G, B."""
    out = pixels.astype(np.float64)
    if case.pixel_type in ("uint16", "float32"):
        whole = ref.full().astype(np.float64)
        lo, hi = whole.min(axis=(0, 1)), whole.max(axis=(0, 1))
        out = (out - lo) / np.where(hi > lo, hi - lo, 1) * 255
    out = np.clip(np.rint(out), 0, 255)
    return np.repeat(out, 3, axis=2) if out.shape[2] == 1 else out


def test_detected_from_content_whatever_the_name(case: Case, tmp_path: Path) -> None:
    assert detect(renamed(case, tmp_path)).id == case.format_id


def test_imported(imported: Imported) -> None:
    manifest = imported.manifest
    assert manifest.status is Status.DEPLOYED, (imported.case.id, manifest.reason)
    assert manifest.format_id == imported.case.format_id


def test_dimensions(deployed: Imported, reference: Reference) -> None:
    meta, case = metadata(deployed), deployed.case
    assert meta.format_id == case.format_id
    assert (meta.width, meta.height) == reference.dimensions
    assert meta.n_channels == case.n_channels
    assert meta.pixel_type == case.pixel_type
    assert meta.significant_bits == {"uint16": 16, "float32": 32}.get(case.pixel_type, 8)
    names = [c.suggested_name for c in meta.channels]
    assert names == (["R", "G", "B"] if case.n_channels == 3 else ["L"])


def test_levels(deployed: Imported, reference: Reference) -> None:
    meta, case = metadata(deployed), deployed.case
    levels = reference.level_dimensions
    assert levels[0] == reference.dimensions
    if case.levels_key is None:
        assert len(levels) == 1
    else:
        assert int(meta.raw_metadata[case.levels_key]) == len(levels)
    pyramid = deployed.manifest.pyramid
    assert pyramid is not None
    sizes = normalized_sizes(meta.width, meta.height)
    assert pyramid["n_tiers"] == len(sizes) == Pyramid(meta.width, meta.height).n_tiers


def test_metadata_fields(deployed: Imported, reference: Reference) -> None:
    meta, case = metadata(deployed), deployed.case
    if reference.physical_size is not None:
        expected = pytest.approx(reference.physical_size, rel=1e-6)
        assert (meta.physical_size_x, meta.physical_size_y) == expected
    for size in (meta.physical_size_x, meta.physical_size_y):
        assert size is None or size > 0
    if reference.magnification is not None:
        assert meta.objective_nominal_magnification == pytest.approx(reference.magnification)
    for key, value in case.metadata.items():
        got = meta.raw_metadata.get(key[4:]) if key.startswith("raw:") else getattr(meta, key)
        assert got == value, key
    assert meta.raw_metadata and all("." in key for key in meta.raw_metadata)
    assert ImageMetadata.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta


def test_associated_images(deployed: Imported, reference: Reference) -> None:
    meta = metadata(deployed)
    theirs = reference.associated()
    assert set(meta.associated) == set(theirs) == set(deployed.manifest.associated)
    for name, pixels in theirs.items():
        info = meta.associated[name]
        assert (info.width, info.height) == (pixels.shape[1], pixels.shape[0]), name
        response = deployed.client.get(f"/image/{deployed.path}/associated/{name}.png")
        assert response.status_code == 200, response.text
        served = decode(response.content)
        if served.shape != pixels.shape:  # served within a maximum size
            pixels = resize(pixels, served.shape[1], served.shape[0])
        assert mad(served, pixels) < deployed.case.tolerance, name


def test_normalized_tile(deployed: Imported, reference: Reference) -> None:
    """The full-resolution tier's centre tile and its last one (partial edges)."""
    meta, case = metadata(deployed), deployed.case
    tier = Pyramid(meta.width, meta.height).at_level(0)
    for tx, ty in {(tier.n_tx // 2, tier.n_ty // 2), (tier.n_tx - 1, tier.n_ty - 1)}:
        url = f"/image/{deployed.path}/normalized-tile/level/0/tx/{tx}/ty/{ty}.png"
        response = deployed.client.get(url)
        assert response.status_code == 200, response.text
        served = decode(response.content)
        r = tier.tile_region(tx, ty)
        assert served.shape[:2] == (r.height, r.width)
        theirs = as_served(reference.region(r.left, r.top, r.width, r.height), reference, case)
        assert mad(served, theirs) < case.tolerance, (tx, ty)


def test_thumbnail(deployed: Imported, reference: Reference) -> None:
    case = deployed.case
    response = deployed.client.get(f"/image/{deployed.path}/thumb.png", params={"length": THUMB})
    assert response.status_code == 200, response.text
    served = decode(response.content)
    h, w = served.shape[:2]
    assert max(h, w) == THUMB
    theirs = as_served(reference.thumbnail(w, h), reference, case)
    assert mad(served, theirs) < (case.thumb_tolerance or case.tolerance)
