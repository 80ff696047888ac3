"""Import steps for the sandbox's child process in tests (``tests.functions.steps:<name>``):
kept free of heavy imports, since the child imports this module."""

from __future__ import annotations

import time
from typing import Any


def sleepy(payload: dict[str, Any]) -> dict[str, Any]:
    """A conversion that never ends in time (the sandbox kills it at its deadline)."""
    time.sleep(float(payload.get("sleep_s", 120)))
    return {}
