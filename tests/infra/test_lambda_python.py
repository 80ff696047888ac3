"""Every package pinned for a Lambda installs for the Python version `sam build` targets.

`scripts/lambda.mk` installs wheels with ``--python-version $(LAMBDA_PYTHON_VERSION)``: pip then
refuses any pinned release whose Requires-Python excludes that version, and `sam build` fails.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = [
    ROOT / "layers/vips/requirements.txt",
    *sorted((ROOT / "functions").glob("*/requirements.txt")),
]


def lambda_python_version() -> str:
    text = (ROOT / "scripts/lambda.mk").read_text()
    found = re.search(r"^LAMBDA_PYTHON_VERSION \?= (\S+)$", text, re.MULTILINE)
    assert found, "scripts/lambda.mk sets no LAMBDA_PYTHON_VERSION"
    return found.group(1)


def pins(file: Path) -> list[tuple[str, str]]:
    out = []
    for line in file.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out.append((name.strip(), version.strip()))
    return out


def test_the_target_names_a_patch_release() -> None:
    # "3.11" means 3.11.0 to pip, which many current wheels exclude (>= 3.11.5 and the like)
    assert re.fullmatch(r"3\.\d+\.\d+", lambda_python_version())


@pytest.mark.parametrize("requirements", REQUIREMENTS, ids=lambda p: p.parent.name)
def test_pins_accept_the_lambda_python(requirements: Path) -> None:
    target = lambda_python_version()
    refused = []
    for name, version in pins(requirements):
        dist = metadata.distribution(name)
        assert dist.version == version, f"{name}: pinned {version}, installed {dist.version}"
        needs = dist.metadata.get("Requires-Python")
        if needs and target not in SpecifierSet(needs):
            refused.append(f"{name}=={version} requires Python {needs}")
    assert not refused, f"not installable for Python {target}: {refused}"
