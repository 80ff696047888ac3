"""The lower tiers' thread: every item consumed in order, beside the caller; the consumer's
exception raised in the caller's thread, without blocking it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import simplejpeg

from cytotile.importer.lower import FeedThread, builders
from tests.helpers.jpegtiff import texture


def test_items_consumed_in_order_in_another_thread() -> None:
    seen: list[tuple[int, str]] = []
    threads: set[int] = set()

    def consume(n: int, label: str) -> None:
        threads.add(threading.get_ident())
        seen.append((n, label))

    beside = FeedThread(consume, depth=1)
    for n in range(50):
        beside.feed(n, f"row {n}")
    beside.close()
    assert seen == [(n, f"row {n}") for n in range(50)]
    assert threads and threading.get_ident() not in threads


def test_consumer_error_reaches_the_caller() -> None:
    consumed: list[int] = []

    def consume(n: int) -> None:
        if n == 3:
            raise ValueError("tier 2: strip of width 7")
        consumed.append(n)

    beside = FeedThread(consume, depth=1)
    with pytest.raises(ValueError, match="strip of width 7"):
        for n in range(1000):  # the caller stops at its next feed, never blocked on the queue
            beside.feed(n)
    with pytest.raises(ValueError, match="strip of width 7"):
        beside.close()
    assert consumed == [0, 1, 2]


def _tiers(strips: list[int], image: np.ndarray) -> dict[tuple[int, int, int], bytes]:
    """The tiles of ``image``'s tiers 1..3, fed as strips of these heights (then the rest); each
    strip overwritten once fed (a builder copies what it keeps)."""
    out: dict[tuple[int, int, int], bytes] = {}

    def sink(level: int, tx: int, ty: int, data: bytes, exact: bytes | None) -> None:
        out[level, tx, ty] = data + (exact or b"")

    height, width = image.shape[:2]
    sizes = [(width * 2, height * 2), (width, height), (-(-width // 2), -(-height // 2))]
    sizes.append((-(-sizes[2][0] // 2), -(-sizes[2][1] // 2)))
    chain = builders(sizes, 85, sink)
    y = 0
    for n in [*strips, height]:
        strip = image[y : y + n].copy()
        if strip.shape[0]:
            chain[1].feed(strip)
            strip[:] = 0
        y += n
    return out


def test_strips_of_any_height_give_the_same_tiles() -> None:
    image = texture(600, 530)
    whole = _tiers([], image)
    assert {(lvl, tx, ty) for lvl, tx, ty in whole} == (
        {(1, x, y) for x in range(3) for y in range(3)}
        | {(2, x, y) for x in range(2) for y in range(2)}
        | {(3, 0, 0)}
    )
    assert _tiers([37, 120, 1, 99, 256], image) == whole
    assert _tiers([1] * 300, image) == whole
    served = simplejpeg.decode_jpeg(whole[1, 2, 2][whole[1, 2, 2].rindex(b"\xff\xd8") :])
    assert served.shape == (530 - 512, 600 - 512, 3)  # the exact-size edge tile
    assert np.abs(served.astype(int) - image[512:, 512:]).mean() < 8
