"""The lower tiers' thread: every item consumed in order, beside the caller; the consumer's
exception raised in the caller's thread, without blocking it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
import simplejpeg

from cytotile.importer.crew import Crew
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


def _tiers(
    strips: list[int], image: np.ndarray, crew: Crew | None = None
) -> dict[tuple[int, int, int], bytes]:
    """The tiles of ``image``'s tiers 1..3, fed as strips of these heights (then the rest); each
    strip overwritten once fed (a builder copies what it keeps)."""
    out: dict[tuple[int, int, int], bytes] = {}

    def sink(level: int, tx: int, ty: int, data: bytes, exact: bytes | None) -> None:
        out[level, tx, ty] = data + (exact or b"")

    height, width = image.shape[:2]
    sizes = [(width * 2, height * 2), (width, height), (-(-width // 2), -(-height // 2))]
    sizes.append((-(-sizes[2][0] // 2), -(-sizes[2][1] // 2)))
    chain = builders(sizes, 85, sink, crew)
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


def test_a_crew_gives_the_same_tiles() -> None:
    image = texture(600, 530)
    whole = _tiers([], image)
    with Crew(1) as crew:
        assert _tiers([37, 120, 1, 99, 256], image, crew) == whole
        assert _tiers([300], image, crew) == whole  # two rows of tier 1 in one strip


class _Steps(Crew):
    """A crew that records the size of each step it shares."""

    def __init__(self) -> None:
        super().__init__(1)
        self.sizes: list[int] = []

    def run(self, work: Callable[[range], None], n: int) -> None:
        self.sizes.append(n)
        super().run(work, n)


def test_the_last_rows_of_every_tier_are_coded_in_one_step() -> None:
    """At the slide's end every tier completes its last row: those rows are coded side by
    side, not one tier after another."""
    image = texture(1100, 1500)
    sizes = [(2200, 3000), (1100, 1500), (550, 750), (275, 375), (138, 188)]
    handed: list[tuple[int, int, int]] = []

    def sink(level: int, tx: int, ty: int, data: bytes, exact: bytes | None) -> None:
        handed.append((level, tx, ty))

    with _Steps() as crew:
        chain = builders(sizes, 85, sink, crew)
        for y in range(0, 1500, 120):
            chain[1].feed(image[y : y + 120])
    # tier 1's last row (5 tiles), tier 2's (3), tier 3's (2), tier 4's (1): one step
    assert crew.sizes[-1] == 5 + 3 + 2 + 1
    for level, (width, height) in enumerate(sizes[1:], start=1):
        n_x, n_y = -(-width // 256), -(-height // 256)
        mine = [(tx, ty) for lvl, tx, ty in handed if lvl == level]
        assert mine == [(tx, ty) for ty in range(n_y) for tx in range(n_x)]  # row-major
