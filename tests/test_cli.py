"""The ``cytotile`` command: import, info, serve."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cytotile.cli import main
from tests.helpers.synth import tissue


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    good = tmp_path / "slide.jpg"
    tissue(600, 400).jpegsave(str(good))
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image at all, just some text that is long enough")
    return good, bad


def test_import_prints_each_upload_and_fails_if_any_failed(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = files
    root = tmp_path / "root"
    assert main(["import", "--root", str(root), str(good)]) == 0
    line = capsys.readouterr().out.strip()
    name, key, status = line.split("\t")[:3]
    assert name == str(good) and status == "DEPLOYED"
    assert key.startswith("upload-") and key.endswith("/slide.jpg")
    assert (root / key).is_file()

    assert main(["import", "--root", str(root), str(good), str(bad)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split("\t")[2] == "DEPLOYED"
    name, _, status, reason = lines[1].split("\t")
    assert name == str(bad) and status == "ERROR_FORMAT" and reason


def test_import_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "--root", str(tmp_path), str(tmp_path / "nope.svs")]) == 1
    assert "ERROR_FORMAT" in capsys.readouterr().out


def test_info_of_a_file_and_of_an_upload(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = files
    assert main(["info", str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["format_id"] == "JPEG"
    assert main(["info", str(bad)]) == 1
    assert "not a supported image format" in capsys.readouterr().err
    root = tmp_path / "root"
    main(["import", "--root", str(root), str(good)])
    key = capsys.readouterr().out.split("\t")[1]
    assert main(["info", "--root", str(root), key]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["status"] == "DEPLOYED" and manifest["image"]["width"] == 600
    assert main(["info", "--root", str(root), "upload-unknown/x"]) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve(tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "cytotile.cli",
        "serve",
        "--root",
        str(tmp_path),
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=2) as resp:
                    assert resp.status == 200
                    assert "version" in json.loads(resp.read())
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_import_of_a_collection_prints_its_children(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from tests.formats.test_microscopy import write_lif

    series = [np.full((1, 1, 8, 8), k, dtype=np.uint16) for k in range(2)]
    lif = write_lif(tmp_path / "exp.lif", series, ("Gray",))
    assert main(["import", "--root", str(tmp_path / "root"), str(lif)]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert [line[2] for line in lines] == ["EXTRACTED", "DEPLOYED", "DEPLOYED"]
    assert lines[1][0] == f"{lif} > exp.lif [series 1: Series0]"
    assert lines[2][1].endswith("/exp.lif [series 2: Series1]")  # the image's path


def test_import_of_a_folder_says_what_to_give(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = files[0].parent
    assert main(["import", "--root", str(tmp_path / "root"), str(folder)]) == 1
    name, key, status, reason = capsys.readouterr().out.strip().split("\t")
    assert (name, key, status) == (str(folder), "-", "ERROR_FORMAT")
    assert reason.startswith("a folder") and "DICOM" in reason and "archive" in reason
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").iterdir())
