"""run_isolated: every way a child can end maps to a result or a domain error, quickly."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cytotile.errors import ConversionError, ExtractionError, FormatError
from cytotile.importer import sandbox
from cytotile.importer.sandbox import run_isolated

ROOT = Path(__file__).resolve().parents[2]
TARGETS = "tests.importer.sandbox_targets"
MEMORY = 1 << 30


@pytest.fixture(autouse=True)
def _targets_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))


def run(
    name: str, payload: dict[str, object] | None = None, spare_next: bool = False, **kw: float
) -> dict[str, object]:
    limits = {"timeout_s": 20.0, "memory_bytes": MEMORY, **kw}
    return run_isolated(
        f"{TARGETS}:{name}",
        payload or {},
        timeout_s=limits["timeout_s"],
        memory_bytes=int(limits["memory_bytes"]),
        spare_next=spare_next,
    )


def test_success_in_another_process() -> None:
    result = run("echo", {"a": [1, 2], "b": "é"})
    assert result["echo"] == {"a": [1, 2], "b": "é"}
    assert result["pid"] != os.getpid()
    assert result["vips_concurrency"]
    assert result["blas"] == "1"  # numpy's BLAS threads would spin beside the step's


def test_the_deployments_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    monkeypatch.setenv("VIPS_CONCURRENCY", "3")
    result = run("echo", {})
    assert (result["blas"], result["vips_concurrency"]) == ("4", "3")


def test_domain_errors_cross_unchanged() -> None:
    with pytest.raises(FormatError) as info:
        run("format_error", {"reason": "not a supported image format (looks like MP4)"})
    assert info.value.details == "not a supported image format (looks like MP4)"
    assert info.value.status == "ERROR_FORMAT"
    with pytest.raises(ExtractionError, match="cannot extract the label image"):
        run("extraction_error")


def test_other_exceptions_become_conversion_errors() -> None:
    with pytest.raises(ConversionError) as info:
        run("value_error")
    assert info.value.details == "ValueError: bad value on two lines"
    with pytest.raises(ConversionError, match="TypeError"):
        run("not_json")
    with pytest.raises(ConversionError, match="ModuleNotFoundError"):
        run_isolated("no.such.module:f", {}, timeout_s=20, memory_bytes=MEMORY)


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    start = time.monotonic()
    with pytest.raises(ConversionError, match=r"^timed out after 1.5 s$"):
        run("sleep", {"grandchild": str(marker)}, timeout_s=1.5)
    assert time.monotonic() - start < 5
    pid = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("target", ["allocate", "numpy_allocate"])
def test_memory_limit(target: str) -> None:
    start = time.monotonic()
    with pytest.raises(ConversionError, match=r"out of memory \(limit 256 MiB\)"):
        run(target, {"bytes": 4 << 30}, memory_bytes=256 << 20)
    assert time.monotonic() - start < 5


def test_within_the_memory_limit() -> None:
    assert run("allocate", {"bytes": 64 << 20}, memory_bytes=512 << 20) == {"size": 64 << 20}


@pytest.mark.parametrize(("sig", "memory_hint"), [("SIGKILL", True), ("SIGSEGV", False)])
def test_killed_by_a_signal(sig: str, memory_hint: bool) -> None:
    with pytest.raises(ConversionError, match=f"crashed with {sig}") as info:
        run("die", {"signal": sig})
    assert ("memory limit" in info.value.details) == memory_hint


def test_exit_without_a_result() -> None:
    with pytest.raises(ConversionError, match="ended without a result \\(exit code 3\\)"):
        run("exit_silently")


@pytest.fixture
def spare() -> Iterator[sandbox._Spare]:
    sandbox._SPARE.close()  # none from another test
    yield sandbox._SPARE
    sandbox._SPARE.close()


def spare_pid(spare: sandbox._Spare) -> int:
    assert spare._proc is not None
    return spare._proc.pid


def test_a_step_followed_by_another_starts_its_process_ahead(spare: sandbox._Spare) -> None:
    """The next step runs in the process started beside the first, which has imported what
    steps import (numpy, pyvips, the formats...) before its request; a fresh one each step."""
    first = run("warmed", spare_next=True)
    ahead = spare_pid(spare)
    second = run("warmed")
    assert second["pid"] == ahead != first["pid"]
    assert second["loaded"] == list(sandbox.WARM_MODULES)
    assert spare._proc is None  # none started beside the last step
    assert run("warmed")["pid"] not in (first["pid"], second["pid"])


def test_a_process_started_for_another_environment_is_not_used(
    spare: sandbox._Spare, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("echo", spare_next=True)
    ahead = spare._proc
    assert ahead is not None
    monkeypatch.setenv("VIPS_CONCURRENCY", "3")
    result = run("echo")
    assert result["pid"] != ahead.pid and result["vips_concurrency"] == "3"
    assert ahead.poll() is not None  # ended, not left behind


def test_a_process_started_ahead_keeps_the_limits(spare: sandbox._Spare, tmp_path: Path) -> None:
    run("echo", spare_next=True)
    with pytest.raises(ConversionError, match=r"out of memory \(limit 512 MiB\)"):
        run("numpy_allocate", {"bytes": 4 << 30}, memory_bytes=512 << 20)
    run("echo", spare_next=True)
    marker = tmp_path / "grandchild.pid"
    with pytest.raises(ConversionError, match=r"^timed out after 1.5 s$"):
        run("sleep", {"grandchild": str(marker)}, timeout_s=1.5)
    run("echo", spare_next=True)
    assert run("allocate", {"bytes": 64 << 20}, memory_bytes=512 << 20) == {"size": 64 << 20}


def test_an_import_leaves_no_process_behind(spare: sandbox._Spare, tmp_path: Path) -> None:
    """Detecting and extracting start the next step's process; converting, the last, does
    not: none is left once the import is done."""
    import pyvips

    from cytotile.importer.flow import import_file
    from cytotile.storage.local import LocalStorage

    src = tmp_path / "small.png"
    pyvips.Image.black(40, 30).pngsave(str(src))
    manifest = import_file(LocalStorage(tmp_path / "root"), src)
    assert manifest.status.value == "DEPLOYED", manifest.reason
    assert spare._proc is None
