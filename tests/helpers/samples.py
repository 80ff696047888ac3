"""The real sample files in ``<project root>/../shared/samples``; tests skip when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples"


def sample(name: str) -> Path:
    """Path of a sample file, or skip the calling test when the samples are not there."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample {name} not available (no {SAMPLES})")
    return path
