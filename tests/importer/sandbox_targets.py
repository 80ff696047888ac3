"""Functions run in the sandbox's child process by tests/importer/test_sandbox.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from cytotile.errors import ExtractionError, FormatError


def echo(payload: dict[str, Any]) -> dict[str, Any]:
    print("noise on stdout must not break the result")
    concurrency = os.environ.get("VIPS_CONCURRENCY")
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    return {"echo": payload, "pid": os.getpid(), "vips_concurrency": concurrency, "blas": blas}


def format_error(payload: dict[str, Any]) -> dict[str, Any]:
    raise FormatError(payload["reason"])


def extraction_error(payload: dict[str, Any]) -> dict[str, Any]:
    raise ExtractionError("cannot extract the label image")


def value_error(payload: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("bad value\n  on two lines")


def not_json(payload: dict[str, Any]) -> dict[str, Any]:
    return {"x": object()}


def sleep(payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("grandchild"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open(payload["grandchild"], "w") as fh:
            fh.write(str(child.pid))
    time.sleep(60)
    return {}


def allocate(payload: dict[str, Any]) -> dict[str, Any]:
    block = bytearray(payload["bytes"])
    return {"size": len(block)}


def numpy_allocate(payload: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    return {"size": int(np.ones(payload["bytes"], dtype=np.uint8).sum())}


def die(payload: dict[str, Any]) -> dict[str, Any]:
    os.kill(os.getpid(), getattr(signal, payload["signal"]))
    time.sleep(10)
    return {}


def exit_silently(payload: dict[str, Any]) -> dict[str, Any]:
    os._exit(3)


def warmed(payload: dict[str, Any]) -> dict[str, Any]:
    """Which of the sandbox's warm modules the process had imported before this call."""
    from cytotile.importer.sandbox import WARM_MODULES

    return {"pid": os.getpid(), "loaded": [m for m in WARM_MODULES if m in sys.modules]}
