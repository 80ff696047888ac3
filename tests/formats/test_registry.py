"""The ``cytotile.formats`` entry-point group: built-in formats, an outside plugin, bad plugins,
and the dist-info a Lambda artifact carries so the group is found without an install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.dist_info import write_dist_info

from cytotile.formats import describe_formats, detect, format_by_id, registry
from cytotile.formats.base import ORDER_LAST

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = """
from cytotile.errors import FormatError
from cytotile.formats.base import ORDER_COMMON, Format


class XyzFormat(Format):
    id = "XYZ"
    name = "XYZ test format"
    remarks = "from an outside package"
    order = ORDER_COMMON + 99

    @classmethod
    def match(cls, path, head):
        return head.startswith(b"XYZ!")

    @classmethod
    def open(cls, path):
        raise FormatError("XYZ pixels are not decoded in this test")


class TiffThief(XyzFormat):
    id = "SVS"  # claims a built-in id with a later order: the built-in is kept
    order = 999


NotAFormat = object()
"""


def _plugin(tmp: Path, entries: str) -> Path:
    site = tmp / "site"
    (site / "xyz_plugin").mkdir(parents=True)
    (site / "xyz_plugin" / "__init__.py").write_text(PLUGIN)
    info = site / "xyz_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: xyz-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[cytotile.formats]\n{textwrap.dedent(entries)}")
    return site


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    registry.registered.cache_clear()
    yield
    registry.registered.cache_clear()


def test_builtin_order_keeps_specific_before_generic() -> None:
    ids = [fmt.id for fmt in registry.registered()]
    assert ids.index("SVS") < ids.index("PYRTIFF") < ids.index("PLANARTIFF") < ids.index("JPEG")
    orders = [fmt.order for fmt in registry.registered()]
    assert orders == sorted(orders)


def test_an_outside_package_adds_a_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    site = _plugin(
        tmp_path,
        """\
        xyz = xyz_plugin:XyzFormat
        thief = xyz_plugin:TiffThief
        broken = xyz_plugin:Missing
        notaformat = xyz_plugin:NotAFormat
        """,
    )
    monkeypatch.syspath_prepend(str(site))
    ids = [fmt.id for fmt in registry.registered()]
    assert ids.count("SVS") == 1 and format_by_id("SVS").__module__ == "cytotile.formats.tiff.svs"
    # its order puts it after every built-in format but the refusal-only catch-alls
    common = [fmt.id for fmt in registry.registered() if fmt.order < ORDER_LAST]
    assert common[-1] == "XYZ"
    listed = {d["id"]: d for d in describe_formats()}
    assert listed["XYZ"]["plugin"] == "xyz_plugin"
    sample = tmp_path / "a.png"  # the name says PNG, the content says XYZ
    sample.write_bytes(b"XYZ!" + bytes(100))
    assert detect(sample).id == "XYZ"


def test_no_registered_format_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    with pytest.raises(registry.RegistryError, match=r"cytotile\.formats"):
        registry.registered()


def test_memory_running_out_while_loading_a_format_is_not_a_broken_plugin(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    """A broken plugin is left out; a process out of memory (a step's limit) is not taken for
    one, which would turn the step's failure into "not a supported format"."""

    class Entry:
        name, value = "big", "big:Format"

        def load(self) -> type:
            raise MemoryError

    monkeypatch.setattr(registry, "entry_points", lambda group: [Entry()])
    with pytest.raises(MemoryError):
        registry.registered()


def test_dist_info_of_a_source_copy_registers_the_formats(tmp_path: Path) -> None:
    """What scripts/lambda.mk does for a Lambda artifact: a copy of src/cytotile and the
    dist-info; a clean interpreter (no venv site-packages) then finds every built-in format."""
    write_dist_info(tmp_path)
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]];"
        "from importlib.metadata import entry_points;"
        "print(sorted(e.name for e in entry_points(group='cytotile.formats')))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(tmp_path), str(ROOT / "src")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = sorted(e.name for e in registry.entry_points(group=registry.GROUP))
    assert out.strip() == str(installed)
