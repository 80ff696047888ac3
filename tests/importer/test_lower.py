"""The lower tiers' thread: every item consumed in order, beside the caller; the consumer's
exception raised in the caller's thread, without blocking it."""

from __future__ import annotations

import threading

import pytest

from cytotile.importer.lower import FeedThread


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
