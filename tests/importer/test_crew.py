"""The crew shares a step by contiguous parts, waits for all of them, and raises their error."""

from __future__ import annotations

import threading
import time

import pytest

from cytotile.importer.crew import Crew


def test_parts_cover_the_range_once_in_as_many_threads() -> None:
    seen: list[tuple[range, str]] = []
    lock = threading.Lock()

    def work(part: range) -> None:
        with lock:
            seen.append((part, threading.current_thread().name))

    with Crew(2) as crew:
        assert len(crew) == 3
        for n in (0, 1, 2, 3, 7, 100):
            seen.clear()
            crew.run(work, n)
            indices = sorted(i for part, _ in seen for i in part)
            assert indices == list(range(n))
            assert all(len(part) for part, _ in seen) or n == 0
            assert len(seen) == max(1, min(3, n))
            assert len({name for _, name in seen}) == len(seen)  # each part its own thread
            caller = [part for part, name in seen if name == threading.current_thread().name]
            assert caller[0].stop == n  # the caller takes the last part


def test_no_helpers_runs_inline() -> None:
    names: list[str] = []
    with Crew(0) as crew:
        crew.run(lambda part: names.append(threading.current_thread().name), 5)
    assert names == [threading.current_thread().name]


def test_an_error_is_raised_after_every_part_ended() -> None:
    ended: list[int] = []

    def work(part: range) -> None:
        if part.start == 0:
            raise ValueError("bad tile")
        time.sleep(0.05)  # a slower part: the error waits for it
        ended.append(part.start)

    with Crew(1) as crew:
        with pytest.raises(ValueError, match="bad tile"):
            crew.run(work, 4)
        assert ended == [2]
        crew.run(lambda part: ended.append(part.start), 4)  # the crew still works after
        assert sorted(ended) == [0, 2, 2]


def test_the_callers_error_waits_for_the_helpers_too() -> None:
    ended: list[int] = []

    def work(part: range) -> None:
        if part.start:
            raise KeyError("caller's")
        time.sleep(0.05)
        ended.append(part.start)

    with Crew(1) as crew, pytest.raises(KeyError):
        crew.run(work, 2)
    assert ended == [0]
