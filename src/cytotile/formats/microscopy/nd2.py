"""Nikon ND2 (NIS-Elements 3+: a chunk map of named chunks). The metadata (sizes, loops,
channels, calibration) comes from the nd2 package's reader. The package requires dask and
ome-types, but imports them only for ``to_dask`` / ``to_xarray`` and the OME-XML export, which
cytotile never calls: the import function installs nd2 without them
(scripts/lambda_requirements.py ``UNUSED``), so nd2 costs it 0.4 MB instead of 23. The pixels
are read by cytotile (``nd2frames``: strips of rows, stored or inflated as a stream) into a
canvas that is file-backed above ``RawPlanes.IN_MEMORY``: memory stays bounded whatever the
frame. One frame holds every channel of one (z, t), interleaved; a plane is one channel of it.
The XY positions of a multi-position experiment are separate images (``images``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_MICROSCOPY, Format, Source
from cytotile.formats.common import decoding
from cytotile.formats.microscopy import nd2frames, nd2meta
from cytotile.formats.microscopy.planes import (
    PlaneSource,
    channel_list,
    parsed_channels,
    served_type,
    stack_metadata,
)
from cytotile.formats.microscopy.rawplanes import RawPlanes

#: chunk magic of ND2 files (NIS-Elements 3+) and the name of their first chunk
MAGIC = b"\xda\xce\xbe\x0a"
SIGNATURE = b"ND2 FILE SIGNATURE CHUNK NAME01!"
STRIP_BYTES = 16 * 2**20  # rows copied out of a frame at a time


class Nd2Planes:
    """The frames of an open ND2 file, one channel plane at a time."""

    def __init__(self, path: Path) -> None:
        import nd2

        self.path = path
        self.file = nd2.ND2File(str(path))
        self.itemsize = int(self.file.dtype.itemsize)
        self.raw = RawPlanes()
        self.index: dict[tuple[int, int], int] = {}  # (z, t) -> sequence index
        self.offsets: dict[int, int] = {}  # sequence index -> frame chunk in the file
        self.shape = (0, 0, 0, 1)  # channels, height, width, samples
        self.frames: dict[int, tuple[int, int]] = {}  # sequence index -> (start, length)
        self.width_bytes = 0
        self.deflated = False

    def read(self, c: int, z: int, t: int) -> Any:
        import numpy as np

        n_c, height, width, samples = self.shape
        seq = self.index.get((z, t))
        if seq is None:
            raise FormatError(f"ND2 has no frame for z={z} t={t}")
        dtype = self.file.dtype.newbyteorder("<")
        canvas = self.raw.canvas((height, width, samples), str(dtype.newbyteorder("=")))
        rows = max(1, STRIP_BYTES // self.width_bytes)
        strips = nd2frames.row_strips(
            self.path, self.frames[seq], self.width_bytes, height, rows, self.deflated
        )
        for y, data in strips:
            n = len(data) // self.width_bytes
            strip = np.frombuffer(data, dtype).reshape(n, -1)[:, : width * n_c * samples]
            pixels = strip.reshape(n, width, n_c, samples)  # channels interleaved
            canvas[y : y + n] = pixels[:, :, c] if samples == 1 else pixels[:, :, 0]
        return self.raw.image(canvas, str(canvas.dtype))

    def close(self) -> None:
        self.file.close()
        self.raw.close()


class Nd2Format(Format):
    id = "ND2"
    name = "Nikon ND2"
    order = ORDER_MICROSCOPY + 50
    remarks = "Nikon NIS-Elements ND2 (v3+): C/Z/T planes, 8/16-bit, float; XY positions as images."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return head.startswith(MAGIC) and SIGNATURE in head[:64]

    @classmethod
    def images(cls, path: Path) -> list[str]:
        """The XY positions of a multi-position experiment: each is an image of its own."""
        import nd2

        with decoding("ND2 file"), nd2.ND2File(str(path)) as nd2file:
            return nd2meta.position_names(nd2file)

    @classmethod
    def open(cls, path: Path) -> Source:
        return cls.open_image(path, 0)

    @classmethod
    def open_image(cls, path: Path, index: int) -> Source:
        offsets = nd2frames.frame_offsets(path)  # the chunk map, checked before nd2 opens it
        with decoding("ND2 file"):
            planes = Nd2Planes(path)
        planes.offsets = offsets
        try:
            with decoding("ND2 metadata"):
                parsed = nd2meta.parse(planes.file, index)
                planes.index = nd2meta.frame_index(planes.file.loop_indices, index)
            return cls._source(planes, parsed)
        except BaseException:
            planes.close()
            raise

    @classmethod
    def _source(cls, planes: Nd2Planes, parsed: dict[str, Any]) -> Source:
        width, height = parsed["width"], parsed["height"]
        safety.check_dimensions(width, height, max_pixels=None, what="ND2")
        raw = parsed["raw"]
        n_c, samples = parsed["n_channels"], parsed["n_samples"]
        depth, duration = parsed["depth"], parsed["duration"]
        missing = [(z, t) for t in range(duration) for z in range(depth)]
        missing = [k for k in missing if k not in planes.index]
        if missing:
            raise FormatError(f"ND2 has no frame for (z, t) = {missing[0]}")
        planes.shape = (n_c, height, width, samples)
        attrs = planes.file.attributes
        if attrs.compressionType == "lossy":
            raise FormatError("ND2 with lossy-compressed frames is not supported")
        planes.deflated = attrs.compressionType == "lossless"
        packed = width * n_c * samples * planes.itemsize
        planes.width_bytes = max(int(attrs.widthBytes or 0), packed)
        frame_bytes = 0 if planes.deflated else planes.width_bytes * height
        planes.frames = nd2frames.check_frames(
            planes.path, planes.offsets, planes.index, frame_bytes
        )
        pixel_type = served_type(parsed["sample_type"], raw)
        px, py, pz = parsed["physical"]
        meta = stack_metadata(
            cls.id,
            width,
            height,
            n_concrete_channels=n_c,
            n_samples=samples,
            depth=depth,
            duration=duration,
            pixel_type=pixel_type,
            sample_type=parsed["sample_type"],
            significant_bits=parsed["significant_bits"],
            physical_size_x=px,
            physical_size_y=py,
            physical_size_z=pz if depth > 1 else None,
            frame_rate=parsed["frame_rate"] if duration > 1 else None,
            objective_nominal_magnification=parsed["magnification"],
            raw_metadata=raw,
        )
        if samples == 3:
            meta.channels = channel_list(3, list("RGB"), [], [])
        else:
            meta.channels = parsed_channels(n_c, parsed["channels"])
        return PlaneSource(meta, planes.read, planes.close)
