"""Aperio SVS with JPEG 2000 tiles: 33003 (YCbCr) and 33005 (RGB) go to OpenSlide, whose pixels
are the original's; other JPEG 2000 in an SVS is refused with a reason that names it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytotile.errors import FormatError
from cytotile.formats import detect
from tests.helpers import synth, vendors


@pytest.mark.parametrize(("compression", "tolerance"), [(33003, 1), (33005, 0)])
def test_jp2k_svs_pixels(tmp_path: Path, compression: int, tolerance: int) -> None:
    base = vendors.tissue(300, 200)
    path = vendors.write_svs_jp2k(tmp_path / "j.svs", base, compression)
    fmt = detect(path)
    assert fmt.id == "SVS"
    with fmt.open(path) as source:
        assert source.tiff_page is None  # no JPEG tiles to copy: re-encoded
        assert set(source.metadata.associated) == {"label", "macro", "thumb"}
        pixels = synth.to_numpy(source.plane()).astype(int)
    # lossless codestreams; 33003 adds the YCbCr round trip (at most 1 per sample on average)
    assert np.abs(pixels - base).mean() <= tolerance * 0.5
    assert np.abs(pixels - base).max() <= 2 * tolerance


def test_other_jp2k_in_svs_is_refused_by_name(tmp_path: Path) -> None:
    import tifffile

    base = vendors.tissue(64, 64)
    path = tmp_path / "j2k.svs"
    description = f"{synth.APERIO}64x64 [0,0 64x64] (64x64) J2K|AppMag = 20"
    tifffile.imwrite(
        path,
        base,
        tile=(64, 64),
        compression="jpeg2000",
        description=description,
        photometric="rgb",
        metadata=None,
    )
    fmt = detect(path)
    with pytest.raises(FormatError, match="JPEG 2000 compression 34712"):
        fmt.open(path)
