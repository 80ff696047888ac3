"""Discovery of the conformance cases (every ``cases_*.py`` module of this package) and the
real import each case is checked through (once per case, shared by its tests)."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.importer.flow import import_file
from cytotile.manifest import Manifest
from cytotile.settings import ImportSettings, ServerSettings
from cytotile.storage.local import LocalStorage
from tests.formats import conformance
from tests.formats.conformance.case import CASES, Case


def load_cases() -> list[Case]:
    """Import every ``cases_*`` module of the package (each registers its cases)."""
    for info in pkgutil.iter_modules(conformance.__path__):
        if info.name.startswith("cases_"):
            importlib.import_module(f"{conformance.__name__}.{info.name}")
    return sorted(CASES.values(), key=lambda c: (c.format_id, c.id))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", load_cases(), ids=str)


def renamed(case: Case, folder: Path) -> Path:
    """The case's file copied alone into ``folder`` as ``image.bin``: content is all there is."""
    (folder / "made").mkdir()
    made = case.make(folder / "made")
    if not case.renamable:
        return made
    copy = folder / "renamed" / "image.bin"
    copy.parent.mkdir()
    shutil.copyfile(made, copy)
    return copy


def build(case: Case, folder: Path) -> Path:
    """The file(s) of the case in ``folder``; what an import is given. Single-file formats get a
    name that says nothing (``image.bin``); a multi-file image keeps its names."""
    (folder / "made").mkdir(parents=True)
    made = case.make(folder / "made")
    if case.multi_file:
        return made
    copy = folder / "image.bin"
    shutil.copyfile(made, copy)
    return copy


@dataclass
class Imported:
    case: Case
    original: Path  # what was imported
    manifest: Manifest
    client: TestClient
    storage: LocalStorage

    @property
    def path(self) -> str:
        return f"{self.manifest.id}/{self.manifest.original_name}"


@pytest.fixture(scope="session")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    root = tmp_path_factory.mktemp("conformance-root")
    app = create_app(ServerSettings(root=str(root)), LocalStorage(root))
    with TestClient(app) as client:
        yield client, root


@pytest.fixture(scope="session")
def _imports() -> dict[str, Imported]:
    return {}


@pytest.fixture
def imported(
    case: Case,
    _server: tuple[TestClient, Path],
    _imports: dict[str, Imported],
    tmp_path_factory: pytest.TempPathFactory,
) -> Imported:
    """The case imported for real (isolated steps, serving pyramid), once per session."""
    if case.id not in _imports:
        client, root = _server
        original = build(case, tmp_path_factory.mktemp("conformance-case"))
        storage = LocalStorage(root)
        manifest = import_file(storage, original, settings=ImportSettings(root=str(root)))
        _imports[case.id] = Imported(case, original, manifest, client, storage)
    return _imports[case.id]
