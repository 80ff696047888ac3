"""``_jpegdct.encode_edge``: an edge tile's padded and exact scans in one pass, byte-identical to
two ``encode`` calls (the padded tile's MCUs, then its first ``exact_mcus``) on every edge shape."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cytotile.importer import _jpegdct
from tests.helpers.jpegtiff import texture
from tests.helpers.samples import sample
from tests.importer.jpegdct_builders import codes, optimal, parse

Tables = tuple[tuple[bytes, bytes, bytes, bytes], ...]


def coded(pixels: np.ndarray, subsampling: int) -> tuple[tuple[np.ndarray, ...], tuple, tuple]:
    """The planes (dummy blocks included), sampling and MCUs of libjpeg's stream of pixels."""
    out = io.BytesIO()
    mode = "L" if pixels.ndim == 2 else "RGB"
    Image.fromarray(pixels, mode).save(out, "JPEG", quality=85, subsampling=subsampling)
    p = parse(out.getvalue())
    planes = p.mcu_planes()
    _jpegdct.decode(out.getvalue(), planes)
    return planes, p.sampling, p.mcus


def gathered(planes: tuple[np.ndarray, ...], sampling: tuple, mcus: tuple) -> Tables:
    """Optimal tables of the planes' symbols (every symbol given a code)."""
    counts = np.ones((len(planes), 2, 256), np.int64)
    _jpegdct.gather(planes, sampling, mcus, counts)
    return tuple(
        (*codes(*optimal(counts[k, 0])), *codes(*optimal(counts[k, 1]))) for k in range(len(planes))
    )


def shapes(mcus: tuple[int, int]) -> list[tuple[int, int]]:
    """Exact tiles of every edge: right, bottom, corner, one MCU, one MCU column or row, all."""
    mx, my = mcus
    return [
        (mx - 1, my), (1, my), (mx, my - 1), (mx, 1), (mx - 2, my - 3), (1, 1), (2, 1), (1, 2),
        (mx, my),
    ]  # fmt: skip


def assert_as_two_encodes(planes: tuple[np.ndarray, ...], sampling: tuple, mcus: tuple,
                          tables: Tables) -> None:  # fmt: skip
    padded = _jpegdct.encode(planes, sampling, mcus, tables)
    for exact in shapes(mcus):
        both = _jpegdct.encode_edge(planes, sampling, mcus, exact, tables)
        assert both == (padded, _jpegdct.encode(planes, sampling, exact, tables)), exact


@pytest.mark.parametrize("subsampling", [-1, 0, 1, 2])  # grey, 4:4:4, 4:2:2, 4:2:0
def test_edge_is_two_encodes(subsampling: int) -> None:
    """Textured blocks (DC predictions differing at each exact row's start), then a padded
    tile's zeroed margin, as the re-tiler blanks it."""
    pixels = texture(88, 72, seed=5)
    if subsampling < 0:
        pixels = np.ascontiguousarray(pixels[:, :, 0])
    planes, sampling, mcus = coded(pixels, max(subsampling, 0))
    tables = gathered(planes, sampling, mcus)
    assert_as_two_encodes(planes, sampling, mcus, tables)
    blanked = tuple(q.copy() for q in planes)
    for q in blanked:
        q[:, q.shape[1] * 2 // 3 :] = 0
        q[q.shape[0] * 3 // 4 :] = 0
    assert_as_two_encodes(blanked, sampling, mcus, tables)


def test_edge_svs_tiles_with_their_tables() -> None:
    """Aperio's RGB-coded 4:4:4 tiles, with the standard tables they were coded with."""
    from cytotile.importer.retile import probe

    level = probe(sample("CMU-1-Small-Region.svs"))
    for index in (0, 57, len(level.offsets) - 1):
        stream = level.stream_of(index)
        p = parse(stream)
        planes = p.mcu_planes()
        _jpegdct.decode(stream, planes)
        assert_as_two_encodes(planes, p.sampling, p.mcus, p.huffman())


def test_edge_strided_views() -> None:
    """Views into bigger planes (a band's tiles), as dctretile passes them."""
    planes, sampling, mcus = coded(texture(64, 48, seed=2), 2)
    tables = gathered(planes, sampling, mcus)
    views = []
    for q in planes:
        big = np.zeros((q.shape[0] * 2, q.shape[1] + 3, 64), np.int16)
        big[1::2, 3:] = q
        views.append(big[1::2, 3:])
    assert _jpegdct.encode_edge(tuple(views), sampling, mcus, (3, 2), tables) == (
        _jpegdct.encode(planes, sampling, mcus, tables),
        _jpegdct.encode(planes, sampling, (3, 2), tables),
    )


def test_edge_bad_arguments() -> None:
    planes, sampling, mcus = coded(texture(32, 32), 2)
    tables = gathered(planes, sampling, mcus)
    for exact in ((0, 1), (1, 0), (mcus[0] + 1, 1), (1, mcus[1] + 1), (1,), "ab"):
        with pytest.raises(ValueError, match="exact_mcus"):
            _jpegdct.encode_edge(planes, sampling, mcus, exact, tables)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too small"):
        _jpegdct.encode_edge(planes, sampling, (mcus[0] + 1, mcus[1]), (1, 1), tables)
    with pytest.raises(ValueError, match="tables"):
        _jpegdct.encode_edge(planes, sampling, mcus, (1, 1), tables[:2])
    no_eob = tuple((dc, ds, bytes(4) + ac[4:], b"\x00" + acs[1:]) for dc, ds, ac, acs in tables)
    for exact in ((1, 1), mcus):  # the failing block in both tiles, or in the padded one only
        with pytest.raises(ValueError, match="EOB"):
            _jpegdct.encode_edge(planes, sampling, mcus, exact, no_eob)
    big = tuple(q.copy() for q in planes)
    big[0][-1, -1, 0] = -30000  # DC category 15: in the padded tile only
    with pytest.raises(ValueError, match="DC difference"):
        _jpegdct.encode_edge(big, sampling, mcus, (1, 1), tables)
    big[0][-1, -1, 0] = 0
    big[1][0, 0, 5] = 2000  # AC category 11: in both
    with pytest.raises(ValueError, match="AC coefficient"):
        _jpegdct.encode_edge(big, sampling, mcus, (1, 1), tables)
