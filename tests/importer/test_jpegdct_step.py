"""``_jpegdct.step_*``: a crew step's transcodes and assemblies opened by the caller, run by
every thread in one call each, finished by the caller: the results are the single calls'."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from cytotile.importer import _jpegdct
from tests.helpers.jpegtiff import texture
from tests.importer.test_jpegdct_transcode import Mosaic, decoded, own_tables, stream_of


def tile_planes(m: Mosaic) -> tuple[np.ndarray, ...]:
    """Planes of one source tile (a thread's own)."""
    return tuple(np.zeros_like(q) for q in m.view(0))


def run(step: object, m: Mosaic, threads: int) -> None:
    """step_run in ``threads`` threads at once, each with planes of its own."""
    workers = [
        threading.Thread(target=_jpegdct.step_run, args=(step, tile_planes(m)))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("own", [False, True], ids=["coded", "copied"])
@pytest.mark.parametrize("subsampling", [-1, 0, 2])
def test_a_step_gives_what_the_calls_give(subsampling: int, own: bool, threads: int) -> None:
    """Every source tile transcoded, each with its level 1 made in the same call, and output
    tiles assembled from stores of an earlier step: the same results, pixels and counts as one
    transcode or assemble call each, whichever thread ran which."""
    m = Mosaic(subsampling, 32, 3, 2, own=own, restart=2)
    quant = np.arange(1, 1 + 64 * len(m.planes), dtype="<u2").clip(1, 9).tobytes()
    n = len(m.streams)
    bands = len(m.planes)
    outs = [[np.zeros((16, 16, bands), np.uint8) for _ in range(n)] for _ in range(2)]
    counts = [[np.zeros((256, bands), np.int64) for _ in range(n)] for _ in range(2)]

    def half(which: int, i: int) -> tuple[object, ...]:
        return (m.p.sampling, quant, False, outs[which][i], counts[which][i], None)

    alone = [
        _jpegdct.transcode(s, tile_planes(m), m.sets, None, half(0, i))
        for i, s in enumerate(m.streams)
    ]
    step = _jpegdct.step_new(tile_planes(m))
    indices = [
        _jpegdct.step_transcode(step, s, m.sets, None, half(1, i)) for i, s in enumerate(m.streams)
    ]
    stores = [(bits, records) for _, bits, records in alone]
    mx, my = m.tile_mcus
    tiles = [((ox, oy), (mx, my)) for oy in (0, my // 2) for ox in (0, mx - 1)]
    for origin, mcus in tiles:
        grid = tuple(stores[r * m.cols + c] for r in range(2) for c in range(2))
        args = (grid, (2, 2), origin, m.tile_mcus, m.p.sampling, mcus, mcus, m.sets[0])
        indices.append(_jpegdct.step_assemble(step, *args))
    assert indices == list(range(n + len(tiles)))
    run(step, m, threads)
    results = _jpegdct.step_finish(step)
    assert results[:n] == alone
    for i in range(n):
        assert outs[0][i].any() and counts[0][i].sum() == 16 * 16 * bands
        np.testing.assert_array_equal(outs[1][i], outs[0][i])
        np.testing.assert_array_equal(counts[1][i], counts[0][i])
    for (origin, mcus), result in zip(tiles, results[n:], strict=True):
        assert result == m.assembled(stores, origin, mcus, mcus, m.sets[0])


def test_each_jobs_error_is_its_result() -> None:
    """A tile that fails in the run gives its ValueError as its result, the others theirs."""
    stream = stream_of(texture(64, 48), 0)
    p, _ = decoded(stream)
    tables = (own_tables(p),)
    cut = stream[: len(stream) // 2] + b"\xff\xd9"
    step = _jpegdct.step_new(p.mcu_planes())
    for s in (stream, cut, stream):
        _jpegdct.step_transcode(step, s, tables)
    _jpegdct.step_run(step, p.mcu_planes())
    good, bad, again = _jpegdct.step_finish(step)
    assert isinstance(bad, ValueError) and "truncated" in str(bad)
    assert good == again == _jpegdct.transcode(stream, p.mcu_planes(), tables)


def test_a_step_is_opened_then_run_then_finished() -> None:
    """Arguments are checked when a job is opened; planes of other sizes are refused; no job
    is opened once the step has run, and none is finished before it has."""
    stream = stream_of(texture(64, 48), 2)
    p, _ = decoded(stream)
    tables = (own_tables(p),)
    step = _jpegdct.step_new(p.mcu_planes())
    with pytest.raises(ValueError, match="half"):
        _jpegdct.step_transcode(step, stream, tables, None, (p.sampling,))
    with pytest.raises(ValueError, match=r"SOI|marker|JPEG|truncated"):
        _jpegdct.step_transcode(step, b"\x00" * 64, tables)
    with pytest.raises(ValueError, match="assemble"):
        _jpegdct.step_assemble(
            step, (), (1, 1), (0, 0), (1, 1), p.sampling, (1, 1), (1, 1), tables[0]
        )
    assert _jpegdct.step_transcode(step, stream, tables) == 0  # the failed ones took no index
    with pytest.raises(RuntimeError, match="not run"):
        _jpegdct.step_finish(step)
    smaller = tuple(q[:-1] for q in p.mcu_planes())
    with pytest.raises(ValueError, match="sizes"):
        _jpegdct.step_run(step, smaller)
    _jpegdct.step_run(step, p.mcu_planes())
    _jpegdct.step_run(step, p.mcu_planes())  # nothing left: returns at once
    with pytest.raises(RuntimeError, match="already run"):
        _jpegdct.step_transcode(step, stream, tables)
    (result,) = _jpegdct.step_finish(step)
    assert result == _jpegdct.transcode(stream, p.mcu_planes(), tables)
    with pytest.raises(ValueError, match="step"):
        _jpegdct.step_run(object(), p.mcu_planes())


def test_a_step_dropped_unfinished_releases_its_jobs() -> None:
    """A step opened (and run or not) then dropped: its buffers are released (the stream's
    bytes can be resized again: no export holds them)."""
    data = bytearray(stream_of(texture(64, 48), 0))
    p, _ = decoded(bytes(data))
    tables = (own_tables(p),)
    for runs in (False, True):
        step = _jpegdct.step_new(p.mcu_planes())
        _jpegdct.step_transcode(step, data, tables)
        with pytest.raises(BufferError):
            data.append(0)  # exported to the job
        if runs:
            _jpegdct.step_run(step, p.mcu_planes())
        del step
        data.append(0)
        data.pop()


def opened_step(m: Mosaic) -> object:
    """A step of the mosaic's tiles, each transcoded."""
    step = _jpegdct.step_new(tile_planes(m))
    for stream in m.streams:
        _jpegdct.step_transcode(step, stream, m.sets)
    return step


def test_the_codecs_workers_run_a_started_step() -> None:
    """step_start hands the step to the codec's own threads (no GIL); step_join runs what is
    left and waits for them: the results are step_run's, for any number of workers."""
    m = Mosaic(2, 32, 4, 3)
    expected = [_jpegdct.transcode(s, tile_planes(m), m.sets) for s in m.streams]
    for workers in (0, 1, 3):
        steps = [opened_step(m) for _ in range(3)]
        for step in steps:  # several started at once, joined in turn
            _jpegdct.step_start(step, workers)
        for step in steps:
            _jpegdct.step_join(step, tile_planes(m))
            assert _jpegdct.step_finish(step) == expected
    with pytest.raises(RuntimeError, match="already started"):
        step = opened_step(m)
        _jpegdct.step_start(step, 1)
        _jpegdct.step_start(step, 1)


def test_a_started_step_dropped_unjoined_waits_for_its_workers() -> None:
    """A started step dropped without a join (its caller failed): the workers at it are
    waited for before its buffers go."""
    m = Mosaic(0, 32, 4, 4)
    for _ in range(20):
        step = opened_step(m)
        _jpegdct.step_start(step, 2)
        del step


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_makes_workers_of_its_own() -> None:
    """The parent's workers are not the child's (a fork copies one thread): a step started in
    a forked child still runs, by workers made there."""
    m = Mosaic(2, 32, 2, 2)
    expected = [_jpegdct.transcode(s, tile_planes(m), m.sets) for s in m.streams]
    parent = opened_step(m)
    _jpegdct.step_start(parent, 2)  # the parent's workers exist
    _jpegdct.step_join(parent, tile_planes(m))
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only when its step gave the same results
        code = 1
        try:
            child = opened_step(m)
            _jpegdct.step_start(child, 2)
            _jpegdct.step_join(child, tile_planes(m))
            code = 0 if _jpegdct.step_finish(child) == expected else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_tile_smaller_than_the_planes_is_refused() -> None:
    """The planes are each thread's, reused tile after tile and never cleared: a tile whose
    MCUs do not fill them (a frame smaller than the level's tiles) is refused when opened."""
    big, small = stream_of(texture(64, 48), 2), stream_of(texture(48, 48), 2)
    p, _ = decoded(big)
    step = _jpegdct.step_new(p.mcu_planes())
    with pytest.raises(ValueError, match="planes' size"):
        _jpegdct.step_transcode(step, small, (own_tables(decoded(small)[0]),))
    assert _jpegdct.step_transcode(step, big, (own_tables(p),)) == 0


def test_a_jobs_error_run_by_a_worker_is_its_result() -> None:
    """A tile cut short, run by the codec's workers among good ones: its ValueError is its
    result, the others' results are theirs, whichever thread ran which."""
    m = Mosaic(2, 32, 4, 3)
    cut = m.streams[5][:-40] + b"\xff\xd9"  # its scan cut, its headers whole
    streams = [*m.streams[:5], cut, *m.streams[6:]]
    expected = [_jpegdct.transcode(s, tile_planes(m), m.sets) for s in m.streams]
    for workers in (1, 2):
        step = _jpegdct.step_new(tile_planes(m))
        for stream in streams:
            _jpegdct.step_transcode(step, stream, m.sets)
        _jpegdct.step_start(step, workers)
        _jpegdct.step_join(step, tile_planes(m))
        results = _jpegdct.step_finish(step)
        assert isinstance(results[5], ValueError) and "truncated" in str(results[5])
        assert results[:5] + results[6:] == expected[:5] + expected[6:]
