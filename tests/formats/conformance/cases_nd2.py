"""Conformance cases of Nikon ND2 (one plane: 16-bit grey, 8-bit colour camera), synthesized by
tests/helpers/nd2files.py and compared with the nd2 package's own read. Multi-plane ND2
(C, Z, T, channel metadata): tests/formats/test_nd2.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.formats.conformance.case import Case, register
from tests.formats.conformance.references import ArrayReference
from tests.helpers.nd2files import Nd2Channel, Nd2Spec, write_nd2


class Nd2Reference(ArrayReference):
    """The nd2 package: the single frame of the file."""

    def read(self) -> np.ndarray:
        import nd2

        with nd2.ND2File(self.path) as f:
            return np.array(f.read_frame(0))  # a copy: the frame is a view of the mapping


def _grey16(folder: Path) -> Path:
    y, x = np.mgrid[0:230, 0:330]
    data = ((x * 37 + y * 91) % 4096).astype(np.uint16)[None, :, :, None]
    channel = [Nd2Channel("", (255, 128, 0), 570.0, 550.0)]  # unnamed: "L", as the suite wants
    return write_nd2(folder / "grey16.nd2", data, Nd2Spec([("T", 1)], channel))


def _rgb8(folder: Path) -> Path:
    y, x = np.mgrid[0:200, 0:300]
    data = np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8)[None]
    channel = [Nd2Channel("Brightfield", (255, 255, 255), 0.0, 0.0)]
    return write_nd2(folder / "rgb.nd2", data, Nd2Spec([("T", 1)], channel, rgb=True))


register(
    Case(
        "synthetic-nd2-grey16",
        "ND2",
        _grey16,
        Nd2Reference,
        n_channels=1,
        pixel_type="uint16",
        metadata={"physical_size_x": 0.325},
    ),
    Case("synthetic-nd2-rgb8", "ND2", _rgb8, Nd2Reference),
)
