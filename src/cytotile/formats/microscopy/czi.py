"""Zeiss CZI (czifile, pure Python over tifffile/imagecodecs): C/Z/T planes assembled from the
full-resolution subblocks (mosaics included; pyramid subblocks skipped), one plane in memory at
a time; scaling, channels (name, colour, wavelengths), objective from the XML metadata. Several
scenes (axis S): each scene is its own image (a collection), its plane the bounding box of its
own subblocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cytotile.errors import FormatError
from cytotile.formats import safety
from cytotile.formats.base import ORDER_MICROSCOPY, Format, Source
from cytotile.formats.common import decoding
from cytotile.formats.microscopy.czimeta import parse_metadata
from cytotile.formats.microscopy.planes import (
    PlaneSource,
    channel_list,
    parsed_channels,
    served_type,
    stack_metadata,
)
from cytotile.formats.microscopy.rawplanes import RawPlanes

MAGIC = b"ZISRAWFILE"
PIXEL_TYPES = {
    "Gray8": "uint8",
    "Gray16": "uint16",
    "Gray32Float": "float32",
    "Bgr24": "uint8",
    "Bgr48": "uint16",
}


class CziPlanes:
    """Planes assembled from the subblocks of one (c, z, t): in memory when small, else in a
    temporary raw file that libvips maps (bounded memory for large mosaics)."""

    def __init__(self, path: Path, scene: int | None = None) -> None:
        import czifile

        self.czi = czifile.CziFile(str(path))
        self.axes = str(self.czi.axes)
        self.start = tuple(int(v) for v in self.czi.start)
        self.shape = tuple(int(v) for v in self.czi.shape)
        self.entries = list(self.czi.filtered_subblock_directory)
        self.raw = RawPlanes()
        if scene is not None and "S" in self.axes:
            self._restrict(scene)

    def _restrict(self, scene: int) -> None:
        """Keep the subblocks of ``scene`` (0-based, from the file's first S) and their
        bounding box as the plane."""
        s0 = self.start[self.axes.index("S")]
        kept = [
            e
            for e in self.entries
            if int(dict(zip(e.axes, e.start, strict=False)).get("S", s0)) - s0 == scene
        ]
        if not kept:
            raise FormatError(f"CZI has no subblock in scene {scene + 1}")
        start, shape = list(self.start), list(self.shape)
        start[self.axes.index("S")], shape[self.axes.index("S")] = s0 + scene, 1
        for axis in "YX":
            if axis not in self.axes:
                continue
            k = self.axes.index(axis)
            lo = min(int(e.start[e.axes.index(axis)]) for e in kept)
            hi = max(
                int(e.start[e.axes.index(axis)]) + int(e.shape[e.axes.index(axis)]) for e in kept
            )
            start[k], shape[k] = lo, hi - lo
        self.entries, self.start, self.shape = kept, tuple(start), tuple(shape)

    def size(self, axis: str) -> int:
        return self.shape[self.axes.index(axis)] if axis in self.axes else 1

    def _subblocks(self, c: int, z: int, t: int) -> Iterator[tuple[Any, dict[str, int]]]:
        """Full-resolution subblocks of the plane, with their start in plane coordinates."""
        base = dict(zip(self.axes, self.start, strict=True))
        want = {"C": c, "Z": z, "T": t}
        for entry in self.entries:
            if tuple(entry.stored_shape) != tuple(entry.shape):
                continue  # a pyramid subblock (stored reduced): level 0 comes from the others
            where = {
                a: int(v) - base.get(a, 0) for a, v in zip(entry.axes, entry.start, strict=False)
            }
            if all(where.get(a, 0) == i for a, i in want.items()):
                yield entry, where

    def read(self, c: int, z: int, t: int) -> Any:
        import numpy as np

        height, width, samples = self.size("Y"), self.size("X"), self.size("0")
        dtype = np.dtype(self.czi.dtype)
        out = self.raw.canvas((height, width, samples), str(dtype))
        found = False
        for entry, where in self._subblocks(c, z, t):
            tile = entry.data_segment().data()
            tile = tile.reshape(
                tile.shape[entry.axes.index("Y")], tile.shape[entry.axes.index("X")], -1
            )
            ty, tx = where.get("Y", 0), where.get("X", 0)
            h, w = min(tile.shape[0], height - ty), min(tile.shape[1], width - tx)
            if h > 0 and w > 0 and ty >= 0 and tx >= 0:
                out[ty : ty + h, tx : tx + w] = tile[:h, :w]
                found = True
        if not found:
            raise FormatError(f"CZI has no subblock for plane c={c} z={z} t={t}")
        return self.raw.image(out, str(dtype), bgr=samples == 3)

    def close(self) -> None:
        self.czi.close()
        self.raw.close()


class CziFormat(Format):
    id = "CZI"
    name = "Zeiss CZI"
    order = ORDER_MICROSCOPY + 30
    remarks = "Carl Zeiss Image (ZISRAW): C/Z/T planes, mosaics; 8/16-bit grey, BGR."

    @classmethod
    def match(cls, path: Path, head: bytes) -> bool:
        return head.startswith(MAGIC)

    @classmethod
    def images(cls, path: Path) -> list[str]:
        with decoding("CZI file"):
            planes = CziPlanes(path)
        try:
            n_scenes = planes.size("S")
            names = parse_metadata(planes.czi.metadata()).get("scenes", [])
        finally:
            planes.close()
        if n_scenes <= 1:
            return []
        return [
            names[k] if k < len(names) and names[k] else f"Scene {k + 1}" for k in range(n_scenes)
        ]

    @classmethod
    def open(cls, path: Path) -> Source:
        return cls.open_image(path, 0)

    @classmethod
    def open_image(cls, path: Path, index: int) -> Source:
        with decoding("CZI file"):
            planes = CziPlanes(path)
        try:
            n_scenes = planes.size("S")
            if not 0 <= index < n_scenes:
                raise FormatError(f"the CZI holds {n_scenes} scenes, not scene {index + 1}")
            if n_scenes > 1:
                with decoding("CZI file"):
                    planes._restrict(index)
            return cls._source(planes, index if n_scenes > 1 else None)
        except Exception:
            planes.close()
            raise

    @classmethod
    def _source(cls, planes: CziPlanes, scene: int | None = None) -> Source:
        extra = [a for a in planes.axes if a not in "CZTYX0BS" and planes.size(a) > 1]
        if extra:
            raise FormatError(f"CZI dimensions {''.join(extra)} are not supported (only C, Z, T)")
        width, height, samples = planes.size("X"), planes.size("Y"), planes.size("0")
        safety.check_dimensions(width, height, max_pixels=None, what="CZI")
        with decoding("CZI metadata"):
            parsed = parse_metadata(planes.czi.metadata())
        raw = parsed["raw"]
        if scene is not None:
            raw["CZI.SceneIndex"] = scene  # 0-based
        pixel_type = served_type(str(planes.czi.dtype), raw)
        n_c = planes.size("C")
        px, py, pz = parsed["physical"]
        meta = stack_metadata(
            cls.id,
            width,
            height,
            n_concrete_channels=n_c if samples == 1 else 1,
            n_samples=samples,
            depth=planes.size("Z"),
            duration=planes.size("T"),
            pixel_type=pixel_type,
            sample_type=str(planes.czi.dtype),
            significant_bits=parsed["significant_bits"],
            physical_size_x=px,
            physical_size_y=py,
            physical_size_z=pz,
            acquired_at=parsed.get("acquired_at"),
            frame_rate=parsed.get("frame_rate"),
            objective_nominal_magnification=parsed["magnification"],
            raw_metadata=raw,
        )
        if samples == 3:
            if n_c > 1:
                raise FormatError("CZI with several BGR channels is not supported")
            meta.channels = channel_list(3, list("RGB"), [], [])
        else:
            meta.channels = parsed_channels(n_c, parsed["channels"])
        return PlaneSource(meta, planes.read, planes.close)
