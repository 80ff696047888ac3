"""Quantized DCT coefficients in and out of JPEG streams, through libjpeg (``jpeglib``'s builds).

``jpeglib``'s objects go through several temporary files per image (the stream is copied to one,
read twice: header then coefficients; written through another) and convert every array: about
half of the re-tiling's time. Its C functions are called here directly, with one scratch file
per codec (in memory, ``/dev/shm``, when the machine has it) and arrays allocated by numpy. The
C calls release the GIL: codecs in several threads run in parallel.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytotile.importer import jpegmarkers as jm

if TYPE_CHECKING:
    import numpy as np

JPEGLIB_VERSION = "turbo210"  # the libjpeg build of jpeglib used (libjpeg-turbo 2.1.0)
COLORSPACES = {"JCS_GRAYSCALE": 1, "JCS_RGB": 2, "JCS_YCbCr": 3}  # libjpeg's J_COLOR_SPACE


class CodecError(Exception):
    """libjpeg could not read or write the coefficients (the reason is the message)."""


def scratch_dir(workdir: Path | None) -> Path | None:
    """Where scratch files go: ``/dev/shm`` when it is usable (no disk), else ``workdir``."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else workdir


def block_dims(frame: jm.Frame, width: int, height: int) -> list[tuple[int, int]]:
    """(rows, columns) of coefficient blocks libjpeg counts per component for an image of
    ``width`` x ``height`` (``height_in_blocks``, ``width_in_blocks``: a partial MCU's dummy
    blocks are not counted)."""
    mw, mh = frame.mcu_width, frame.mcu_height
    return [(-(-height * c[2] // mh), -(-width * c[1] // mw)) for c in frame.components]


class Codec:
    """One thread's coefficient reader and writer (its own scratch files)."""

    def __init__(self, frame: jm.Frame, colorspace: str, workdir: Path | None) -> None:
        import jpeglib
        from jpeglib._bind import CJpegLib

        jpeglib.version.set(JPEGLIB_VERSION)
        self.lib: Any = CJpegLib.get()
        self.frame = frame
        self.colorspace = COLORSPACES[colorspace]
        fd, name = tempfile.mkstemp(prefix="cytotile-dct-", suffix=".jpg", dir=scratch_dir(workdir))
        self.fd = fd  # kept open: one write and one read of the scratch file per tile, no open
        self.path = Path(name)
        self.c_path = ctypes.c_char_p(name.encode())
        self.mask = CJpegLib.flags_to_mask(["+OPTIMIZE_CODING"])
        n = len(frame.components)
        self.samp = (ctypes.c_int32 * 6)(*[v for c in frame.components for v in (c[2], c[1])])
        self.tbl_no = (ctypes.c_short * 4)(*[c[3] for c in frame.components], *[-1] * (4 - n))
        self.qt: np.ndarray | None = None  # (tables, 64) as the first stream read had them
        # per call, reused (libjpeg fills them): the tables read, and their component numbers
        self._qt_out = (ctypes.c_ushort * 256)()
        self._tbl_out = (ctypes.c_short * 4)()
        self._qt_size = (
            (max(c[3] for c in frame.components) + 1) * 64 * ctypes.sizeof(ctypes.c_ushort)
        )
        self._dims: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def dims(self, width: int, height: int) -> list[tuple[int, int]]:
        """:func:`block_dims` (the same few sizes each tile: computed once each)."""
        key = (width, height)
        if key not in self._dims:
            self._dims[key] = block_dims(self.frame, width, height)
        return self._dims[key]

    def read(self, stream: bytes, width: int, height: int) -> list[np.ndarray]:
        """Coefficient blocks of each component, (rows, columns, 8, 8) int16 (zigzag undone
        as libjpeg stores them: row-major within a block)."""
        import numpy as np

        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, stream, 0)
        comps = [np.empty((h, w, 64), np.int16) for h, w in self.dims(width, height)]
        ptrs: list[Any] = [ctypes.c_void_p(c.ctypes.data) for c in comps]
        ptrs += [None] * (4 - len(ptrs))
        if not self.lib.read_jpeg_dct(self.c_path, *ptrs, self._qt_out, self._tbl_out):
            raise CodecError("libjpeg cannot read the coefficients")
        tables = ctypes.string_at(self._qt_out, self._qt_size)
        if self.qt is None:
            self.qt = np.frombuffer(tables, np.uint16).reshape(-1, 64).copy()
        elif tables != self.qt.tobytes():
            raise CodecError("other quantization tables")
        return [c.reshape(c.shape[0], c.shape[1], 8, 8) for c in comps]

    def write(self, comps: list[np.ndarray], width: int, height: int) -> bytes:
        """A baseline stream of the blocks (optimized Huffman tables), ``width`` x ``height``;
        ``comps`` cover at least libjpeg's block counts for that size (extra blocks dropped)."""
        import numpy as np

        if self.qt is None:
            raise CodecError("no quantization tables read yet")
        dims = self.dims(width, height)
        arrays = [
            np.ascontiguousarray(c[:h, :w].reshape(h, w, 64))
            for c, (h, w) in zip(comps, dims, strict=True)
        ]
        ptrs: list[Any] = [ctypes.c_void_p(a.ctypes.data) for a in arrays]
        ptrs += [None] * (4 - len(arrays))
        c_dims = (ctypes.c_int * 6)(*[v for d in dims for v in d])
        qt = self.qt.ctypes.data_as(ctypes.POINTER(ctypes.c_ushort))
        ok = self.lib.write_jpeg_dct(
            None, self.c_path, *ptrs, (ctypes.c_int * 2)(height, width), c_dims, self.samp,
            self.colorspace, len(arrays), qt, -1, self.tbl_no, 0, None, None, None, *self.mask,
        )  # fmt: skip
        if not ok:
            raise CodecError("libjpeg cannot write the coefficients")
        return os.pread(self.fd, os.fstat(self.fd).st_size, 0)  # libjpeg rewrote the file

    def close(self) -> None:
        os.close(self.fd)
        self.path.unlink(missing_ok=True)
