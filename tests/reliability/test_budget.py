"""Output sizes are decided before any work: the encoders' side limits, the memory budget of one
request (refused with a reason, or shrunk under SAFE_RESIZE; UNSAFE lifts the size rule, not the
budget), and heavy outputs go through a bounded semaphore that tiles never wait on."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import pyvips
from starlette.testclient import TestClient

from cytotile.pipeline import budget, outputs
from cytotile.pipeline.encode import Format
from tests.reliability.conftest import ClientFactory, Root

UNSAFE = {"X-Image-Size-Safety": "UNSAFE"}
RESIZE = {"X-Image-Size-Safety": "SAFE_RESIZE"}


def _size(response: Any) -> tuple[int, int]:
    assert response.status_code == 200, response.text
    image = pyvips.Image.new_from_buffer(response.content, "")
    return image.width, image.height


@pytest.mark.parametrize(("ext", "side"), [("jpg", 65_500), ("webp", 16_383)])
def test_encoder_side_limits(make_client: ClientFactory, root: Root, ext: str, side: int) -> None:
    client = make_client(request_memory_mb=40)  # a small budget: a small shrunk answer
    url = f"/image/{root.grey.path}/thumb.{ext}"
    refused = client.get(url, params={"length": side + 1}, headers=UNSAFE)
    assert refused.status_code == 400 and str(side) in refused.json()["details"]
    width, height = _size(client.get(url, params={"length": side + 1}, headers=RESIZE))
    assert max(width, height) <= side


def test_unallocatable_unsafe_sizes_are_refused_before_work(
    make_client: ClientFactory, root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(request_memory_mb=64)
    monkeypatch.setattr(outputs, "_render", _must_not_run)
    for length, status in ((60_000, 413), (10**9, 400), (10**30, 400)):
        response = client.get(
            f"/image/{root.rgb.path}/thumb.png", params={"length": length}, headers=UNSAFE
        )
        assert response.status_code == status, response.text
        assert "MiB" in response.json()["details"] or "side" in response.json()["details"]
    region = {"left": 0, "top": 0, "width": 300, "height": 200}
    response = client.post(
        f"/image/{root.rgb.path}/window.png", json={"region": region, "width": 10**8}
    )
    assert response.status_code in (400, 413), response.text


def _must_not_run(*args: object, **kwargs: object) -> bytes:
    raise AssertionError("pixels were read for a request that had to be refused")


def test_safe_resize_shrinks_to_the_budget(make_client: ClientFactory, root: Root) -> None:
    client = make_client(request_memory_mb=48, max_output_pixels=10**12)
    response = client.get(
        f"/image/{root.u16.path}/resized.png", params={"length": 9000, "bits": 16}, headers=RESIZE
    )
    width, height = _size(response)
    assert width < 9000 and "safe_width" in response.headers["x-image-size-limit"]
    assert pyvips.Image.new_from_buffer(response.content, "").format == "ushort"  # 16 bits kept
    work = budget.Work(160 * 120, 1, 2, width * height, 1, 2, Format.PNG)
    assert budget.estimate(work) <= 48 << 20


def test_request_budget_from_the_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(budget.LAMBDA_MEMORY_ENV, raising=False)
    assert budget.request_budget() == budget.LOCAL_BUDGET_MB << 20
    assert budget.request_budget(300) == 300 << 20
    monkeypatch.setenv(budget.LAMBDA_MEMORY_ENV, "2048")
    assert budget.request_budget() == (2048 - budget.LAMBDA_RESERVE_MB) << 20
    assert budget.request_budget(100) == 100 << 20  # an explicit setting wins


def test_upscaled_answers_match_the_in_memory_path(client: TestClient, root: Root) -> None:
    """The streaming upscale (render, then libvips resizes and encodes) gives the pixels of
    rendering the resized samples, within rounding."""
    import numpy as np

    response = client.get(f"/image/{root.grey.path}/thumb.png", params={"length": 800})
    out = pyvips.Image.new_from_buffer(response.content, "").numpy().astype(int)
    source = pyvips.Image.new_from_array(root.grey.pixels[..., 0])
    expected = source.resize(800 / 200, kernel="cubic").numpy().astype(int)[: out.shape[0]]
    assert out.shape == (400, 800)
    assert np.abs(out - expected).mean() < 2.0


def test_heavy_requests_queue_and_tiles_do_not(
    make_client: ClientFactory, root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(heavy_requests=1, heavy_pixels=100_000)
    running, peak, lock = 0, 0, threading.Lock()
    make = outputs.make

    def slow_make(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.4)
        with lock:
            running -= 1
        return make(*args, **kwargs)

    monkeypatch.setattr(outputs, "make", slow_make)
    heavy_url = f"/image/{root.rgb.path}/thumb.jpg?length=600"
    tile_url = f"/image/{root.rgb.path}/normalized-tile/zoom/1/ti/0.jpg?gammas=1.5"
    with ThreadPoolExecutor(6) as pool:
        heavies = [pool.submit(client.get, f"{heavy_url}&n={k}") for k in range(3)]
        time.sleep(0.1)
        start = time.perf_counter()
        tiles = [pool.submit(client.get, tile_url) for _ in range(3)]
        assert all(t.result().status_code == 200 for t in tiles)
        tile_time = time.perf_counter() - start
        assert all(h.result().status_code == 200 for h in heavies)
    assert peak == 1  # one heavy output at a time: the three take 1.2 s at least
    assert tile_time < 0.8  # tiles answered while heavy outputs were still queued


def test_associated_images_have_the_same_rules(make_client: ClientFactory, root: Root) -> None:
    client = make_client(request_memory_mb=40)
    url = f"/image/{root.rgb.path}/associated/label.jpg"
    start = time.perf_counter()
    refused = client.get(url, params={"length": 60_000}, headers=UNSAFE)
    assert refused.status_code == 413, refused.text  # was a 500 after minutes
    assert client.get(url, params={"length": 70_000}, headers=UNSAFE).status_code == 400
    assert time.perf_counter() - start < 5
    width, height = _size(client.get(url, params={"length": 60_000}, headers=RESIZE))
    assert 120 < width < 60_000 and height < 60_000
