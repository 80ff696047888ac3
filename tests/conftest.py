"""Suite-wide settings."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from hypothesis import HealthCheck, settings

# CI explores the same examples every run (a red CI must be reproducible); locally, explore more.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


class _ClosingPolicy(asyncio.DefaultEventLoopPolicy):
    """Closes the loop that ``set_event_loop`` replaces in a thread. Mangum sets the thread's
    loop once, as on Lambda; ``asyncio.run`` replaces it (by its own, then None) and never
    closes it: the garbage collector would find it unclosed (ResourceWarning on its self-pipe
    sockets) inside any later test, whose strict warnings then fail."""

    def __init__(self) -> None:
        super().__init__()
        self._set = threading.local()

    def set_event_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        previous: asyncio.AbstractEventLoop | None = getattr(self._set, "loop", None)
        if previous is not None and previous is not loop and not previous.is_running():
            previous.close()  # closing a closed loop does nothing
        self._set.loop = loop
        super().set_event_loop(loop)


asyncio.set_event_loop_policy(_ClosingPolicy())
