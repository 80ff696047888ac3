"""Run one import step in a child Python process with memory and time limits.

Decoders of untrusted files can spin, allocate without bound or abort the process: the step runs
in ``python -m cytotile.importer.sandbox`` with its address space limited (``RLIMIT_AS``) and a
deadline, in its own process group (killed as a whole). The payload goes in on stdin as JSON,
the result comes back on stdout as JSON. Plain pipes only: no ``multiprocessing`` (no /dev/shm on
AWS Lambda). Domain errors (``ImportFailure`` subclasses) cross the boundary unchanged; anything
else becomes a ``ConversionError`` with a one-line reason.

Every step gets a process of its own, but it need not start from nothing: a step followed by
another (``spare_next``: detecting, extracting) starts the next one's process beside it, which
imports what steps import (:data:`WARM_MODULES`: numpy, pyvips, the formats...; two thirds of a
small image's step) and then waits for its request. A small image's import went from ~0.58 s to
~0.44 s, CMU-1-Small-Region's from ~0.98 s to ~0.6 s. None is started beside the conversion
(the heavy step: its memory is the machine's) nor kept for another environment.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from cytotile.errors import ConversionError, ImportFailure

STDERR_LINES = 5  # kept for the reason of a crash
MAX_REASON = 500
MEMORY_HINTS = (
    "out of memory",
    "cannot allocate memory",
    "memory allocation failed",
    "failed to map segment",
)


#: what a spare step process imports before its request: what the steps import
WARM_MODULES = ("numpy", "pyvips", "PIL.Image", "tifffile", "cytotile.formats",
                "cytotile.importer.tasks")  # fmt: skip


def run_isolated(
    target: str,
    payload: dict[str, Any],
    *,
    timeout_s: float,
    memory_bytes: int,
    spare_next: bool = False,
) -> dict[str, Any]:
    """Call ``target`` ("package.module:function", taking and returning a JSON-able dict) on
    ``payload`` in a child process limited to ``memory_bytes`` of address space and ``timeout_s``
    seconds. Raises the child's ``ImportFailure`` as is, else ``ConversionError``.
    ``spare_next``: another step follows (its process is started now, beside this one)."""
    env = _environment()
    request = json.dumps({"target": target, "payload": payload, "memory_bytes": memory_bytes})
    proc = _SPARE.take(env) or _start(env)
    if spare_next:
        _SPARE.start(env)
    try:
        out, err = proc.communicate(request.encode(), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=5)  # pipes held by an escaped grandchild: give up
        raise ConversionError(f"timed out after {timeout_s:g} s") from None
    finally:
        _kill_group(proc.pid)  # stray grandchildren
    return _outcome(proc.returncode, out, err, memory_bytes)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])  # where the cytotile package is
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    for name, value in step_environment().items():
        env.setdefault(name, value)
    return env


def _start(env: dict[str, str], warm: bool = False) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "cytotile.importer.sandbox", *(["--warm"] if warm else [])]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


class _Spare:
    """At most one step process started ahead, for the environment it was started with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._env: dict[str, str] | None = None

    def take(self, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
        """The spare, when it was started for ``env`` and still waits (else it is ended)."""
        with self._lock:
            proc, started_for, self._proc = self._proc, self._env, None
        if proc is None:
            return None
        if started_for == env and proc.poll() is None:
            return proc
        _end(proc)
        return None

    def start(self, env: dict[str, str]) -> None:
        spare = _start(env, warm=True)
        with self._lock:
            old, self._proc, self._env = self._proc, spare, env
        if old is not None:
            _end(old)

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            _end(proc)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """A spare never used: ended with its process group, its pipes closed."""
    _kill_group(proc.pid)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=5)


_SPARE = _Spare()
atexit.register(_SPARE.close)


def step_environment() -> dict[str, str]:
    """What a step's process runs with, unless the deployment says otherwise."""
    return {
        "VIPS_CONCURRENCY": str(min(os.cpu_count() or 1, 4)),
        "MALLOC_ARENA_MAX": "2",  # per-thread arenas would eat the address space
        # no step multiplies matrices; numpy's OpenBLAS threads, started by its import, would
        # spin for ~50 ms beside the step's own (30-45 ms of CPU: 20% of a small slide's
        # conversion on 2 CPUs)
        "OPENBLAS_NUM_THREADS": "1",
    }


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(err: bytes) -> str:
    lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return " | ".join(lines[-STDERR_LINES:])[-MAX_REASON:]


def _outcome(returncode: int, out: bytes, err: bytes, memory_bytes: int) -> dict[str, Any]:
    limit = f"{memory_bytes / 2**20:.0f} MiB"
    try:
        report = json.loads(out)
    except ValueError:
        report = None
    if not isinstance(report, dict) or "ok" not in report:
        tail = _tail(err)
        if returncode < 0:
            name = _signal_name(-returncode)
            memory = name == "SIGKILL" or any(w in tail.lower() for w in ("alloc", "memory"))
            hint = f" (memory limit {limit}?)" if memory else ""
            raise ConversionError(f"crashed with {name}{hint}" + (f": {tail}" if tail else ""))
        reason = tail or "no output"
        raise ConversionError(f"ended without a result (exit code {returncode}): {reason}")
    if report["ok"]:
        return dict(report["result"])
    if report.get("kind") == "memory":
        raise ConversionError(f"ran out of memory (limit {limit})")
    if report.get("kind") == "failure":
        raise _failure_class(report.get("module", ""), report.get("class", ""))(report["details"])
    raise ConversionError(str(report.get("reason", "unknown error"))[:MAX_REASON])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _failure_class(module: str, name: str) -> type[ImportFailure]:
    """The ``ImportFailure`` subclass the child raised (only cytotile's own classes)."""
    if module == "cytotile" or module.startswith("cytotile."):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            cls = None
        if isinstance(cls, type) and issubclass(cls, ImportFailure):
            return cls
    return ImportFailure


# ----------------------------------------------------------------------------- the child side


def _child() -> int:
    """Entry point of the child: limits first, then the target, then one JSON line."""
    import resource

    result_fd = os.dup(1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the result
    if "--warm" in sys.argv[1:]:  # started ahead: what steps import, before the request
        for name in WARM_MODULES:
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        with contextlib.suppress(Exception):  # the formats' entry points, loaded once
            importlib.import_module("cytotile.formats.registry").registered()
    request = json.loads(sys.stdin.buffer.read())
    limit = int(request["memory_bytes"])
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        module_name, _, func_name = request["target"].partition(":")
        func = getattr(importlib.import_module(module_name), func_name)
        report: dict[str, Any] = {"ok": True, "result": func(request["payload"])}
        text = json.dumps(report)
    except MemoryError:
        text = json.dumps({"ok": False, "kind": "memory"})
    except ImportFailure as exc:
        cls = type(exc)
        text = json.dumps(
            {
                "ok": False,
                "kind": "failure",
                "module": cls.__module__,
                "class": cls.__name__,
                "details": exc.details,
            }
        )
    except BaseException as exc:  # the parent turns it into a ConversionError
        full = " ".join(str(exc).split())
        message = full[:MAX_REASON]
        if any(hint in full.lower() for hint in MEMORY_HINTS):
            text = json.dumps({"ok": False, "kind": "memory"})
        else:
            reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
            text = json.dumps({"ok": False, "kind": "error", "reason": reason})
    with os.fdopen(result_fd, "w") as out:
        out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(_child())
