"""The crew shares a step by contiguous parts, waits for all of them, and raises their error."""

from __future__ import annotations

import threading
import time

import pytest

from cytotile.importer.crew import Crew


def test_every_index_done_once_by_the_crew() -> None:
    seen: list[tuple[range, str]] = []
    lock = threading.Lock()

    def work(part: range) -> None:
        time.sleep(0.002)  # long enough for the helpers to take some
        with lock:
            seen.append((part, threading.current_thread().name))

    with Crew(2) as crew:
        assert len(crew) == 3
        for n in (0, 1, 2, 3, 7, 40):
            seen.clear()
            crew.run(work, n)
            assert sorted(i for part, _ in seen for i in part) == list(range(n))
            if n >= 7:  # shared: more than one thread did some
                assert len({name for _, name in seen}) > 1


def test_no_helpers_runs_inline() -> None:
    names: list[str] = []
    with Crew(0) as crew:
        crew.run(lambda part: names.append(threading.current_thread().name), 5)
    assert names == [threading.current_thread().name]


def test_an_error_is_raised_after_every_thread_stopped() -> None:
    ended: list[int] = []
    lock = threading.Lock()

    def work(part: range) -> None:
        if part.start == 3:
            raise ValueError("bad tile")
        time.sleep(0.01)  # slower ones: the error waits for them
        with lock:
            ended.append(part.start)

    with Crew(1) as crew:
        with pytest.raises(ValueError, match="bad tile"):
            crew.run(work, 40)
        done = len(ended)
        time.sleep(0.05)
        assert len(ended) == done < 39  # nothing ran after the error; the rest was not started
        ended.clear()
        crew.run(work, 3)  # the crew still works after
        assert sorted(ended) == [0, 1, 2]


def test_a_busy_helper_is_not_waited_for() -> None:
    """Two callers share one helper: while it works on the first one's step, the second one does
    its whole step itself and returns, without waiting for the helper to come to it."""
    started, release = threading.Event(), threading.Event()
    callers = {threading.get_ident()}
    with Crew(1) as crew:

        def slow(part: range) -> None:
            if threading.get_ident() not in callers:  # the helper
                started.set()
                release.wait(5)
            else:
                time.sleep(0.2)  # the other caller's own index: the helper takes the next one

        def run_other() -> None:
            callers.add(threading.get_ident())
            crew.run(slow, 2)

        other = threading.Thread(target=run_other)
        other.start()
        assert started.wait(5)  # the helper is inside the other caller's step
        done: list[int] = []
        began = time.perf_counter()
        crew.run(lambda part: done.extend(part), 50)
        assert sorted(done) == list(range(50)) and time.perf_counter() - began < 1
        release.set()
        other.join(5)
        assert not other.is_alive()
