"""A crew: one step of a thread's work shared with helper threads, then met again.

A small slide's level is a few bands, fewer than the CPUs: its one re-tiling thread would leave a
CPU idle, and more bands would decode the source rows at their seams twice and hand level 1's
rows out of order. Instead the band's thread takes a crew, and each step of a row (decoding its
source tiles, making its level-1 pixels, coding its output tiles) is shared among them tile by
tile: the same work, the same planes, done sooner. The C codec and libjpeg release the GIL.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from types import TracebackType

#: one share of a step: ``work(part)`` for the indices ``part`` (a range of columns)
Work = Callable[[range], None]


class Crew:
    """``helpers`` threads beside the caller's; a context manager (they stop at its end)."""

    def __init__(self, helpers: int) -> None:
        self._done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self._tasks: list[queue.SimpleQueue[tuple[Work, range] | None]] = []
        for k in range(helpers):
            tasks: queue.SimpleQueue[tuple[Work, range] | None] = queue.SimpleQueue()
            name = f"crew-{k}"
            threading.Thread(target=self._serve, args=(tasks,), name=name, daemon=True).start()
            self._tasks.append(tasks)

    def __len__(self) -> int:
        """Threads in the crew, the caller's included."""
        return len(self._tasks) + 1

    def __enter__(self) -> Crew:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for tasks in self._tasks:
            tasks.put(None)
        self._tasks = []

    def _serve(self, tasks: queue.SimpleQueue[tuple[Work, range] | None]) -> None:
        while (task := tasks.get()) is not None:
            work, part = task
            try:
                work(part)
            except BaseException as exc:  # raised in the caller's thread
                self._done.put(exc)
            else:
                self._done.put(None)

    def run(self, work: Work, n: int) -> None:
        """``work`` over ``range(n)``, an index at a time to whichever thread of the crew is
        free (a helper the system has not run yet leaves its share to the others: no thread
        waits for a fixed half); returns when every index is done, or raises the first error
        (after every thread has stopped: nothing still writes into the caller's buffers)."""
        helpers = min(len(self._tasks), n - 1)
        if helpers <= 0:
            work(range(n))
            return
        indices = itertools.count()  # next() is atomic: each index taken once
        failed: list[BaseException] = []

        def share(_: range) -> None:
            while not failed and (i := next(indices)) < n:
                try:
                    work(range(i, i + 1))
                except BaseException as exc:
                    failed.append(exc)
                    raise

        for tasks in self._tasks[:helpers]:
            tasks.put((share, range(0)))
        error: BaseException | None = None
        try:
            share(range(0))
        except BaseException as exc:
            error = exc
        for _ in range(helpers):
            got = self._done.get()
            error = error or got
        if error is not None:
            raise error
