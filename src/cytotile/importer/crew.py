"""A crew: one step of a thread's work shared with helper threads, then met again.

The lower tiers' thread takes a crew: the rows of tiles a strip completes, in every tier it
reaches, are encoded by libjpeg tile by tile by whichever thread is free (libjpeg releases the
GIL). (The re-tiling's bands share their steps with the C codec's own worker threads instead,
which never take the GIL: :func:`cytotile.importer.dctsteps.band`.)
"""

from __future__ import annotations

import _thread
import itertools
import queue
import threading
from collections.abc import Callable
from types import TracebackType

#: one share of a step: ``work(part)`` for the indices ``part`` (a range of columns)
Work = Callable[[range], None]


class Spawned:
    """``target(*args)`` in a thread of its own, started without waiting for it to run (a
    :class:`threading.Thread`'s ``start`` waits until the new thread has run: 0.15-0.2 ms each
    on the conversion's serial start, against 0.03 here); :meth:`join` waits for its end.
    ``target`` keeps its own exceptions (none may escape it)."""

    def __init__(self, target: Callable[..., None], *args: object) -> None:
        self._done = _thread.allocate_lock()
        self._done.acquire()
        _thread.start_new_thread(self._run, (target, args))

    def _run(self, target: Callable[..., None], args: tuple[object, ...]) -> None:
        try:
            target(*args)
        finally:
            self._done.release()

    def join(self) -> None:
        with self._done:
            pass


class _Step:
    """One ``run``: its indices, taken one at a time by whoever is free, and who is at it."""

    def __init__(self, work: Work, n: int) -> None:
        self.work, self.n = work, n
        self.indices = itertools.count()  # next() is atomic: each index taken once
        self.failed: list[BaseException] = []
        self.busy = 0  # helpers at it
        self.closed = False  # the caller is done: a helper coming now has nothing to do
        self.cond = threading.Condition()

    def share(self) -> None:
        while not self.failed and (i := next(self.indices)) < self.n:
            try:
                self.work(range(i, i + 1))
            except BaseException as exc:
                self.failed.append(exc)
                return

    def join(self) -> None:
        """As a helper: a share, unless the caller has finished it already."""
        with self.cond:
            if self.closed:
                return
            self.busy += 1
        try:
            self.share()
        finally:
            with self.cond:
                self.busy -= 1
                self.cond.notify_all()


class Crew:
    """``helpers`` threads beside the caller's; a context manager (they stop at its end)."""

    def __init__(self, helpers: int) -> None:
        self._steps: queue.SimpleQueue[_Step | None] = queue.SimpleQueue()
        self._helpers = helpers
        for _ in range(helpers):  # never joined: each ends at the None __exit__ sends it
            Spawned(self._serve)

    def __len__(self) -> int:
        """Threads in the crew, the caller's included."""
        return self._helpers + 1

    def __enter__(self) -> Crew:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for _ in range(self._helpers):
            self._steps.put(None)
        self._helpers = 0

    def _serve(self) -> None:
        while (step := self._steps.get()) is not None:
            step.join()

    def run(self, work: Work, n: int) -> None:
        """``work`` over ``range(n)``, an index at a time to whichever thread of the crew is
        free; returns when every index is done, or raises the first error, once no helper is at
        it any more (nothing still writes into the caller's buffers). A helper the system has
        not run yet is not waited for: the caller takes its share."""
        helpers = min(self._helpers, n - 1)
        if helpers <= 0:
            work(range(n))
            return
        step = _Step(work, n)
        for _ in range(helpers):
            self._steps.put(step)
        step.share()
        with step.cond:
            step.closed = True
            while step.busy:
                step.cond.wait()
        if step.failed:
            raise step.failed[0]
