"""The queue of heavy requests: admitted only when they can end within the time budget.

Heavy outputs (thumb/resized/window answers of more than ``heavy_pixels``) run at most
``heavy_requests`` at once (an asyncio semaphore: a queued request holds no thread). Each comes
with the estimated seconds of its work (:func:`cytotile.pipeline.budget.seconds`, for the
whole machine). The backlog is the work still to do of the admitted requests, running or
queued: they share the machine, so a new one ends after the backlog and its own work, whatever
the number of slots. A request that would end after ``request_time_s`` is answered at once
429 with ``Retry-After`` (when the backlog will be done); one admitted but still queued when
its own work no longer fits the remaining time (the estimates were low) is answered 429 then.
An idle server admits any request the time rule let through.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cytotile.api.errors import Busy

MIN_WAIT_S = 0.5  # an admitted request may always wait this long for a slot


@dataclass(eq=False)  # each job is itself (list.remove by identity)
class _Job:
    seconds: float
    started: float | None = None

    def left(self, now: float) -> float:
        if self.started is None:
            return self.seconds
        return max(0.0, self.seconds - (now - self.started))


class HeavyQueue:
    def __init__(self, slots: asyncio.Semaphore, time_s: float) -> None:
        self.slots = slots
        self.time_s = time_s
        self.jobs: list[_Job] = []

    def backlog(self, now: float) -> float:
        """Seconds of work left to the admitted requests."""
        return sum(job.left(now) for job in self.jobs)

    def _busy(self, backlog: float) -> Busy:
        retry = max(1, math.ceil(backlog))
        return Busy(
            f"the server is making other large images (about {backlog:.0f} s of work): this "
            f"one could not be ready within {self.time_s:g} s; retry after {retry} s, or ask "
            "a smaller size",
            retry,
        )

    async def run(self, seconds: float, work: Callable[[], Response]) -> Response:
        loop = asyncio.get_running_loop()
        admitted = loop.time()
        backlog = self.backlog(admitted)
        if self.jobs and backlog + seconds > self.time_s:
            raise self._busy(backlog)
        job = _Job(seconds)
        self.jobs.append(job)
        try:
            wait_s = max(MIN_WAIT_S, self.time_s - seconds)
            try:
                async with asyncio.timeout(wait_s):
                    await self.slots.acquire()
            except TimeoutError:
                self.jobs.remove(job)
                raise self._busy(self.backlog(loop.time())) from None
            try:
                job.started = loop.time()
                return await run_in_threadpool(work)
            finally:
                self.slots.release()
        finally:
            if job in self.jobs:
                self.jobs.remove(job)
