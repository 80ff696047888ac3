"""The time budget of one request: an output that cannot be made in time is refused (413) or
shrunk (SAFE_RESIZE), before any work; heavy requests that could not end in time behind the
queued ones are answered 429 with Retry-After at once (or when their wait runs out)."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import pyvips
from starlette.responses import Response

from cytotile.api import heavy
from cytotile.api.errors import Busy
from cytotile.api.heavy import SLOWDOWN_HALF_LIFE_S, HeavyQueue, Slowdown
from cytotile.pipeline import budget, outputs
from cytotile.pipeline.encode import Format
from tests.reliability.conftest import ClientFactory, Root

UNSAFE = {"X-Image-Size-Safety": "UNSAFE"}
RESIZE = {"X-Image-Size-Safety": "SAFE_RESIZE"}


@pytest.fixture(autouse=True)
def idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue as on an idle machine: the tests' timings, not the machine's load, decide."""
    monkeypatch.setattr(heavy, "load_factor", lambda: 1.0)


def test_seconds_grow_with_the_output_and_its_format() -> None:
    def work(out_px: int, fmt: Format, out_bytes: int = 1) -> budget.Work:
        return budget.Work(128_180, 3, 2, out_px, 3, out_bytes, fmt)

    mpx108 = budget.seconds(work(108_000_000, Format.JPEG))
    assert 5 < mpx108 < budget.DEFAULT_TIME_S  # measured 4.7-7.8 s (2 CPUs)
    assert budget.seconds(work(467_000_000, Format.JPEG)) > budget.DEFAULT_TIME_S  # 25 s
    assert budget.seconds(work(10**8, Format.PNG)) > budget.seconds(work(10**8, Format.JPEG))
    assert budget.seconds(work(10**7, Format.PNG, 2)) > budget.seconds(work(10**7, Format.PNG))
    assert budget.seconds(work(1, Format.JPEG)) < 0.1


def test_outputs_over_the_time_budget_are_refused_before_work(
    make_client: ClientFactory, root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(request_time_s=0.5)
    monkeypatch.setattr(outputs, "_render", _must_not_run)
    url = f"/image/{root.rgb.path}/thumb.png"
    start = time.perf_counter()
    refused = client.get(url, params={"length": 4000}, headers=UNSAFE)  # 10.7 Mpx of PNG
    assert refused.status_code == 413, refused.text
    assert refused.json()["title"] == "Over the time budget"
    assert "0.5 s" in refused.json()["details"]
    region = {"left": 0, "top": 0, "width": 300, "height": 200}
    window = client.post(
        f"/image/{root.rgb.path}/window.webp", json={"region": region, "width": 4000}
    )
    assert window.status_code == 413, window.text
    assert time.perf_counter() - start < 2


def _must_not_run(*args: object, **kwargs: object) -> bytes:
    raise AssertionError("pixels were read for a request that had to be refused")


def test_safe_resize_shrinks_to_the_time_budget(make_client: ClientFactory, root: Root) -> None:
    client = make_client(request_time_s=0.5)
    response = client.get(
        f"/image/{root.rgb.path}/thumb.png", params={"length": 4000}, headers=RESIZE
    )
    assert response.status_code == 200, response.text
    image = pyvips.Image.new_from_buffer(response.content, "")
    assert image.width < 4000 and "safe_width" in response.headers["x-image-size-limit"]
    work = budget.Work(300 * 200, 3, 1, image.width * image.height, 3, 1, Format.PNG)
    assert budget.seconds(work) <= 0.5


def _sleeper(seconds: float) -> Any:
    def work() -> Response:
        time.sleep(seconds)
        return Response(b"made")

    return work


def test_the_queue_admits_what_can_end_in_time() -> None:
    async def scenario() -> list[tuple[str, float, str]]:
        queue = HeavyQueue(asyncio.Semaphore(1), time_s=1.0)
        start = asyncio.get_running_loop().time()

        async def ask(seconds: float, actual: float) -> tuple[str, float, str]:
            try:
                await queue.run(seconds, _sleeper(actual))
                outcome, retry = "made", ""
            except Busy as exc:
                outcome, retry = "busy", exc.headers["Retry-After"]
            return outcome, asyncio.get_running_loop().time() - start, retry

        return list(
            await asyncio.gather(
                ask(0.6, 0.6),  # admitted, runs at once
                ask(0.6, 0.6),  # 0.6 + 0.6 > 1: refused at once
                ask(0.3, 0.3),  # 0.6 + 0.3 <= 1: queued, then made
            )
        )

    first, second, third = asyncio.run(scenario())
    assert first[0] == "made" and 0.55 < first[1] < 0.9
    assert second[0] == "busy" and second[1] < 0.1 and second[2] == "1"
    assert third[0] == "made" and 0.85 < third[1] < 1.3


def test_a_queued_request_is_refused_when_its_wait_runs_out() -> None:
    """Estimates too low: the running work takes 1.5 s, not 0.1; the queued one gives up
    when its own work no longer fits the budget (0.9 s after it came), not after 1.5 s."""

    async def scenario() -> tuple[float, float]:
        queue = HeavyQueue(asyncio.Semaphore(1), time_s=1.0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        running = asyncio.create_task(queue.run(0.1, _sleeper(1.5)))
        await asyncio.sleep(0.05)
        with pytest.raises(Busy):
            await queue.run(0.1, _sleeper(0.1))
        refused_after = loop.time() - start
        await running
        assert queue.jobs == [] and not queue.slots.locked()  # nothing leaked
        return refused_after, loop.time() - start

    refused_after, done_after = asyncio.run(scenario())
    assert 0.85 < refused_after < 1.2 < done_after


def test_heavy_requests_over_the_backlog_get_429(
    make_client: ClientFactory, root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(heavy_requests=1, heavy_pixels=100_000, request_time_s=3.0)
    make = outputs.make

    def slow_make(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return make(*args, **kwargs)

    monkeypatch.setattr(outputs, "make", slow_make)
    monkeypatch.setattr(budget, "FIXED_S", 1.0)  # each heavy output: about 1 s of estimated work
    monkeypatch.setattr(budget, "cpus", lambda: budget.REFERENCE_CPUS)
    url = f"/image/{root.rgb.path}/thumb.jpg?length=600"
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda k: client.get(f"{url}&n={k}"), range(5)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 429, 429, 429], statuses  # 1 s + 1 s fit 3 s, not a third
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) >= 1
            assert "retry after" in answer.json()["details"]


def test_work_slower_than_estimated_makes_the_queue_stricter() -> None:
    """A loaded machine: work took twice its estimate; an idle server then refuses what
    would not end in time at that speed (429, retry once the slowdown has faded)."""

    async def scenario() -> None:
        queue = HeavyQueue(asyncio.Semaphore(1), time_s=1.0)
        await queue.run(0.3, _sleeper(0.6))
        assert 1.4 < queue.slowdown.now(asyncio.get_running_loop().time()) < 1.6
        with pytest.raises(Busy) as refused:
            await queue.run(0.8, _sleeper(0.0))  # 0.8 s at 1.5 times: over 1 s
        assert int(refused.value.headers["Retry-After"]) > 1
        assert (await queue.run(0.5, _sleeper(0.0))).body == b"made"  # 0.75 s: in time

    asyncio.run(scenario())


def test_the_slowdown_fades() -> None:
    slowdown = Slowdown()
    slowdown.measured(100.0, 1.0, 5.0)  # took 5 times its estimate
    assert slowdown.now(100.0) == 3.0  # averaged with the last (none: 1)
    assert slowdown.now(100.0 + SLOWDOWN_HALF_LIFE_S) == pytest.approx(2.0)
    slowdown.measured(100.0, 0.01, 5.0)  # too short a work to say anything
    assert slowdown.now(100.0) == 3.0
    assert slowdown.fits_after(100.0, 0.5, 1.0) == pytest.approx(SLOWDOWN_HALF_LIFE_S)


def test_a_loaded_machine_refuses_sooner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real load_factor, on a chosen load
    monkeypatch.setattr(os, "getloadavg", lambda: (8.0, 1.0, 1.0))
    monkeypatch.setattr(budget, "cpus", lambda: 2)
    assert heavy.load_factor() == 4.0  # 8 runnable tasks on 2 CPUs

    async def scenario() -> None:
        queue = HeavyQueue(asyncio.Semaphore(1), time_s=1.0)
        with pytest.raises(Busy) as refused:
            await queue.run(0.3, _sleeper(0.0))  # 1.2 s on this machine now
        assert refused.value.headers["Retry-After"] == str(heavy.RETRY_LOADED_S)
        assert (await queue.run(0.2, _sleeper(0.0))).body == b"made"

    asyncio.run(scenario())
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 1.0, 1.0))
    assert heavy.load_factor() == 1.0
