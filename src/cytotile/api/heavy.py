"""The queue of heavy requests: admitted only when they can end within the time budget.

Heavy outputs (thumb/resized/window answers of more than ``heavy_pixels``) run at most
``heavy_requests`` at once (an asyncio semaphore: a queued request holds no thread). Each comes
with the estimated seconds of its work (:func:`cytotile.pipeline.budget.seconds`, for the
whole machine). The backlog is the work still to do of the admitted requests, running or
queued: they share the machine, so a new one ends after the backlog and its own work, whatever
the number of slots. A request that would end after ``request_time_s`` is answered at once
429 with ``Retry-After`` (when the backlog will be done); one admitted but still queued when
its own work no longer fits the remaining time (the estimates were low) is answered 429 then.
Work is scaled by how much longer than estimated it takes now: the slowdown measured on the
last heavy requests (fading with time), or the machine's load per CPU if higher (a machine
shared with other busy processes), whichever is larger.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cytotile.api.errors import Busy
from cytotile.pipeline import budget

MIN_WAIT_S = 0.5  # an admitted request may always wait this long for a slot
MAX_SLOWDOWN = 5.0
SLOWDOWN_HALF_LIFE_S = 60.0  # a slowdown measured this long ago counts half
MIN_MEASURED_S = 0.25  # work estimated shorter says little about the machine's speed
RETRY_LOADED_S = 10  # Retry-After when the machine's load alone refused a request


def load_factor() -> float:
    """The machine's load (runnable tasks over the last minute) per CPU this process may use,
    at least 1: on a machine shared with other busy processes, work takes that much longer."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available
        return 1.0
    return min(MAX_SLOWDOWN, max(1.0, load / budget.cpus()))


class Slowdown:
    """How much longer than estimated heavy work takes on this machine now (at least 1: the
    estimates are an idle machine's worst case): other processes on a shared machine, a slower
    CPU. Each measure is averaged with the last, and forgotten with a half-life."""

    def __init__(self) -> None:
        self.factor, self.at = 1.0, 0.0

    def now(self, now: float) -> float:
        weight = math.pow(0.5, (now - self.at) / SLOWDOWN_HALF_LIFE_S)
        return 1.0 + (self.factor - 1.0) * weight

    def measured(self, now: float, estimated: float, took: float) -> None:
        if estimated >= MIN_MEASURED_S:
            ratio = min(MAX_SLOWDOWN, max(1.0, took / estimated))
            self.factor, self.at = (self.now(now) + ratio) / 2, now

    def fits_after(self, now: float, seconds: float, time_s: float) -> float:
        """Seconds until work estimated at ``seconds`` fits ``time_s`` (idle server)."""
        factor = self.now(now)
        if seconds * factor <= time_s:
            return 0.0
        weight = (time_s / seconds - 1.0) / (factor - 1.0)  # of the slowdown left then
        return SLOWDOWN_HALF_LIFE_S * math.log2(1.0 / max(weight, 1e-3))


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
        self.slowdown = Slowdown()

    def backlog(self, now: float) -> float:
        """Estimated seconds of work left to the admitted requests."""
        return sum(job.left(now) for job in self.jobs)

    def factor(self, now: float) -> float:
        """How much longer than estimated work takes now: measured, or from the load."""
        return max(self.slowdown.now(now), load_factor())

    def _busy(self, now: float, seconds: float) -> Busy:
        factor = self.factor(now)
        backlog = self.backlog(now) * factor
        wait = backlog if self.jobs else self.slowdown.fits_after(now, seconds, self.time_s)
        if not self.jobs and wait <= 0:  # the load, not the measured slowdown
            wait = RETRY_LOADED_S
        retry = max(1, math.ceil(wait))
        return Busy(
            f"the server is busy (about {backlog:.0f} s of large images queued, work taking "
            f"{factor:.1f} times its estimate): this one could not be ready within "
            f"{self.time_s:g} s; retry after {retry} s, or ask a smaller size",
            retry,
        )

    async def run(self, seconds: float, work: Callable[[], Response]) -> Response:
        loop = asyncio.get_running_loop()
        now = loop.time()
        factor = self.factor(now)
        if (self.backlog(now) + seconds) * factor > self.time_s:
            raise self._busy(now, seconds)
        job = _Job(seconds)
        self.jobs.append(job)
        try:
            try:
                async with asyncio.timeout(max(MIN_WAIT_S, self.time_s - seconds * factor)):
                    await self.slots.acquire()
            except TimeoutError:
                self.jobs.remove(job)
                raise self._busy(loop.time(), seconds) from None
            try:
                job.started = loop.time()
                sharing = sum(1 for other in self.jobs if other.started is not None)
                response = await run_in_threadpool(work)
                took = loop.time() - job.started
                self.slowdown.measured(loop.time(), seconds * sharing, took)
                return response
            finally:
                self.slots.release()
        finally:
            if job in self.jobs:
                self.jobs.remove(job)
