"""Deployed synthetic images in a local storage, as the import flow leaves them: the serving
pyramid, the histogram, associated images and a DEPLOYED manifest.

    storage = LocalStorage(tmp_path)
    image = deploy(storage, rgb_source(1001, 777))
    image.path        # "upload-<id>/<name>", what HTTP routes take
    image.pixels      # the source pixels (h, w, samples) of plane 0, to compare with answers
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from cytotile.formats.base import AssociatedInfo, ChannelInfo, ImageMetadata, Source
from cytotile.importer.convert import convert
from cytotile.manifest import HISTOGRAM_NAME, FileEntry, Manifest, Status, pyramid_key
from cytotile.pyramid import Pyramid
from cytotile.storage.local import LocalStorage


class ArraySource(Source):
    """A source over numpy planes: ``planes[(c, z, t)]`` is (h, w, n_samples)."""

    def __init__(
        self,
        meta: ImageMetadata,
        planes: dict[tuple[int, int, int], np.ndarray],
        associated: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.metadata = meta
        self.planes = planes
        self.extra = associated or {}

    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        return _vips(self.planes[(c, z, t)])

    def associated(self, name: str) -> pyvips.Image | None:
        array = self.extra.get(name)
        return None if array is None else _vips(array)


def _vips(array: np.ndarray) -> pyvips.Image:
    image = pyvips.Image.new_from_array(np.ascontiguousarray(array))
    if array.dtype == np.uint16:
        return image.copy(interpretation="grey16" if image.bands == 1 else "rgb16")
    return image.copy(interpretation="srgb" if image.bands == 3 else "b-w")


def pattern(
    width: int, height: int, seed: int, dtype: type = np.uint8, scale: int = 255
) -> np.ndarray:
    """Smooth gradients with some structure: JPEG keeps them within a few levels."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    fx, fy, phase = rng.uniform(0.005, 0.03), rng.uniform(0.005, 0.03), rng.uniform(0, 6.28)
    wave = 0.5 + 0.25 * np.sin(x * fx + phase) + 0.25 * np.cos(y * fy)
    ramp = (x / max(1, width - 1) + y / max(1, height - 1)) / 2
    return np.rint((0.6 * wave + 0.4 * ramp) * scale).astype(dtype)


def rgb_source(width: int = 1001, height: int = 777, seed: int = 1) -> ArraySource:
    pixels = np.stack([pattern(width, height, seed + k) for k in range(3)], axis=2)
    meta = ImageMetadata("TEST", width, height, 3, 1, 3, "uint8", 8)
    meta.associated = {"label": AssociatedInfo(120, 80, 3), "macro": AssociatedInfo(300, 100, 3)}
    meta.objective_nominal_magnification = 20.0
    meta.physical_size_x = meta.physical_size_y = 0.5
    meta.microscope_model = "Synthetic"
    meta.raw_metadata = {
        "test.vendor": "cytotile",
        "test.count": 3,
        "test.ratio": 0.5,
        "test.flag": True,
        "other.list": [1, 2],
    }
    associated = {
        "label": pattern(120, 80, 7)[..., None].repeat(3, axis=2),
        "macro": np.stack([pattern(300, 100, 8 + k) for k in range(3)], axis=2),
    }
    return ArraySource(meta, {(0, 0, 0): pixels}, associated)


def grey_source(width: int = 600, height: int = 300, seed: int = 5) -> ArraySource:
    meta = ImageMetadata("TEST", width, height, 1, 1, 1, "uint8", 8)
    return ArraySource(meta, {(0, 0, 0): pattern(width, height, seed)[..., None]})


def u16_source(width: int = 520, height: int = 300, seed: int = 9, bits: int = 12) -> ArraySource:
    meta = ImageMetadata("TEST", width, height, 1, 1, 1, "uint16", bits)
    plane = pattern(width, height, seed, np.uint16, (1 << bits) - 1)[..., None]
    return ArraySource(meta, {(0, 0, 0): plane})


def multi_source(width: int = 300, height: int = 200, depth: int = 3) -> ArraySource:
    """Two uint16 channels (red and green in the metadata), ``depth`` focal planes."""
    meta = ImageMetadata("TEST", width, height, 2, 2, 1, "uint16", 16, depth=depth)
    meta.channels = [ChannelInfo(0, "DAPI", "#FF0000"), ChannelInfo(1, "FITC", "#00FF00")]
    planes = {
        (c, z, 0): pattern(width, height, 20 + 3 * c + z, np.uint16, 60000)[..., None]
        for c in range(2)
        for z in range(depth)
    }
    return ArraySource(meta, planes)


@dataclass
class Deployed:
    storage: LocalStorage
    manifest: Manifest
    source: ArraySource
    path: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def upload_id(self) -> str:
        return self.manifest.id

    @property
    def pixels(self) -> np.ndarray:
        return self.source.planes[(0, 0, 0)]

    @property
    def pyramid(self) -> Pyramid:
        return Pyramid(self.manifest.image["width"], self.manifest.image["height"])  # type: ignore[index]


def deploy(
    storage: LocalStorage, source: ArraySource, name: str = "image.tif", quality: int = 92
) -> Deployed:
    """Convert ``source`` and store everything a deployed upload has; return its handle."""
    upload_id = f"upload-{uuid.uuid4()}"
    meta = source.metadata
    key = pyramid_key(upload_id)
    out = Path(storage.root, key)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = convert(source, out, quality=quality)
    storage.write_bytes(f"{upload_id}/{name}", b"original bytes")
    files = [
        FileEntry("UPLOAD", f"{upload_id}/{name}", 14, meta.format_id),
        FileEntry("ORIGINAL", f"{upload_id}/{name}", 14, meta.format_id, is_reference=True),
        FileEntry("SPATIAL", key, result.size, "PYRTIFF"),
    ]
    histogram = getattr(result, "histogram", None)
    if histogram is not None:
        data = json.dumps(histogram).encode()
        storage.write_bytes(f"{upload_id}/{HISTOGRAM_NAME}", data, "application/json")
        files.append(FileEntry("HISTOGRAM", f"{upload_id}/{HISTOGRAM_NAME}", len(data)))
    associated = {}
    for label in meta.associated:
        image = source.associated(label)
        if image is not None:
            assoc_key = f"{upload_id}/processed/associated/{label}.png"
            storage.write_bytes(assoc_key, image.pngsave_buffer(), "image/png")
            associated[label] = assoc_key
    manifest = Manifest(
        id=upload_id,
        original_name=name,
        status=Status.DEPLOYED,
        size=14,
        format_id=meta.format_id,
        image=meta.to_dict(),
        pyramid={**Pyramid(meta.width, meta.height).info, "compression": result.compression},
        files=files,
        associated=associated,
    )
    manifest.save(storage)
    return Deployed(storage, manifest, source, f"{upload_id}/{name}")
