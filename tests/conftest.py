"""Suite-wide settings."""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Iterator

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


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The main thread's event loop as set (``set_event_loop``), or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return asyncio.get_event_loop()
        except RuntimeError:
            return None


@pytest.fixture(autouse=True)
def _no_orphaned_event_loop() -> Iterator[None]:
    """Mangum sets the thread's event loop once, as on Lambda; ``asyncio.run`` replaces it by
    None when it ends. The replaced loop, never closed, warns (ResourceWarning: its self-pipe
    sockets) whenever the garbage collector finds it, inside any later test: close it here."""
    before = _current_loop()
    yield
    if before is not None and before is not _current_loop() and not before.is_closed():
        before.close()
