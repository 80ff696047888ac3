"""A minimal ND2 (NIS-Elements "Ver3.0") writer for tests: no ND2 sample is available and the
nd2 package reads ND2 but does not write it. It follows the layout the nd2 package's parser
documents, and the tests check that the nd2 package itself reads what it writes.

File layout: a start chunk (signature, version), then chunks at 4096-byte boundaries, each a
16-byte header (magic 0x0ABECEDA, name length, data length), its name ending in ``!``, its data;
last, the chunk map (every chunk's name, file offset and size), whose final 40 bytes are the
chunk-map signature and the map's own offset. Metadata chunks are "CLX Lite" variants: records
of (type byte, name length in UTF-16 units, UTF-16 name, value); a LEVEL (type 11) holds an item
count, its byte length from the record's start, the items, then one 8-byte offset per item.
An image frame (``ImageDataSeq|i!``, name padded to 4072 bytes so its data starts 4096 bytes
into the chunk) is an 8-byte timestamp and the frame's samples, channels interleaved."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = 0x0ABECEDA
FILE_SIGNATURE = b"ND2 FILE SIGNATURE CHUNK NAME01!"
CHUNKMAP_SIGNATURE = b"ND2 CHUNK MAP SIGNATURE 0000001!"
FILEMAP_SIGNATURE = b"ND2 FILEMAP SIGNATURE NAME 0001!"
ALIGN = 4096
FRAME_NAME_LENGTH = 4072
BOOL, INT32, UINT32, DOUBLE, STRING, LEVEL = 1, 2, 3, 6, 8, 11


def _name(name: str) -> bytes:
    return (name + "\0").encode("utf-16-le")


def _record(name: str, value: Any) -> bytes:
    """One CLX Lite record; the type from the value (ints by Nikon's prefixes: ``ui`` unsigned)."""
    head = bytes([0, len(name) + 1]) + _name(name)
    if isinstance(value, dict):
        items = [_record(k, v) for k, v in value.items()]
        length = len(head) + 12 + sum(len(i) for i in items)
        body = struct.pack("<IQ", len(items), length) + b"".join(items)
        return bytes([LEVEL]) + head[1:] + body + b"\0" * (8 * len(items))
    if isinstance(value, bool):
        return bytes([BOOL]) + head[1:] + struct.pack("<B", value)
    if isinstance(value, float):
        return bytes([DOUBLE]) + head[1:] + struct.pack("<d", value)
    if isinstance(value, str):
        return bytes([STRING]) + head[1:] + _name(value)
    if isinstance(value, int):
        kind, fmt = (UINT32, "<I") if name.startswith("ui") else (INT32, "<i")
        return bytes([kind]) + head[1:] + struct.pack(fmt, value)
    raise TypeError(f"no CLX Lite type for {name}={value!r}")


@dataclass
class Nd2Channel:
    name: str
    color: tuple[int, int, int]  # RGB
    emission_nm: float
    excitation_nm: float


@dataclass
class Nd2Spec:
    """What the written file declares: loops outermost first (("T", n), ("P", n), ("Z", n))."""

    loops: list[tuple[str, int]]
    channels: list[Nd2Channel]
    pixel_um: float = 0.325
    z_step_um: float = 1.5
    period_ms: float = 500.0
    significant_bits: int | None = None
    objective: float = 20.0
    rgb: bool = False  # one channel of three components (a colour camera)
    position_names: list[str] = field(default_factory=list)  # of a ("P", n) loop
    compressed: bool = False  # frames deflated (NIS-Elements' lossless compression)
    row_padding: int = 0  # bytes after each row (uiWidthBytes larger than the samples)
    extra: dict[str, Any] = field(default_factory=dict)


def _spectrum(nm: float) -> dict[str, Any]:
    return {"uiCount": 1, "pPoint": {"Point0": {"dWavelength": nm, "dTValue": 1.0, "eType": 1}}}


def _plane(index: int, channel: Nd2Channel, components: int) -> dict[str, Any]:
    r, g, b = channel.color
    return {
        "uiCompCount": components,
        "uiSampleIndex": index,
        "uiColor": (b << 16) | (g << 8) | r,  # ABGR
        "sDescription": channel.name,
        "pFluorescentProbe": {
            "m_EmissionSpectrum": _spectrum(channel.emission_nm),
            "m_ExcitationSpectrum": _spectrum(channel.excitation_nm),
        },
    }


def _loop(kind: str, count: int, spec: Nd2Spec, inner: dict[str, Any] | None) -> dict[str, Any]:
    if kind == "T":
        period = spec.period_ms
        pars: dict[str, Any] = {
            "uiCount": count,
            "dStart": 0.0,
            "dPeriod": period,
            "dDuration": period * count,
        }
        exp: dict[str, Any] = {"eType": 1, "uLoopPars": pars}
    elif kind == "Z":
        step = spec.z_step_um
        pars = {"uiCount": count, "dZLow": 0.0, "dZHigh": step * (count - 1), "dZStep": step}
        pars.update({"dZHome": 0.0, "bZInverted": False, "iType": 0})
        exp = {"eType": 4, "uLoopPars": pars}
    elif kind == "P":
        points = {
            f"a{k}": {"dPosX": 100.0 * k, "dPosY": 50.0, "dPosZ": 0.0, "dPosName": name}
            for k, name in enumerate(spec.position_names or [""] * count)
        }
        exp = {"eType": 2, "uLoopPars": {"bUseZ": False, "bRelativeXY": False, "Points": points}}
    else:
        raise ValueError(kind)
    if inner is not None:
        exp["ppNextLevelEx"] = {"": inner}
    return exp


def _metadata_chunks(spec: Nd2Spec, frames: np.ndarray) -> dict[bytes, bytes]:
    height, width, n_c = frames.shape[-3:]
    bits = frames.dtype.itemsize * 8
    attrs = {
        "uiWidth": width,
        "uiWidthBytes": width * n_c * frames.dtype.itemsize + spec.row_padding,
        "uiHeight": height,
        "uiComp": n_c,
        "uiBpcInMemory": bits,
        "uiBpcSignificant": spec.significant_bits or bits,
        "uiSequenceCount": int(np.prod([n for _, n in spec.loops], dtype=int)),
        "uiTileWidth": width,
        "uiTileHeight": height,
        "eCompression": 0 if spec.compressed else 2,
        "dCompressionParam": 0.0,
    }
    components = 3 if spec.rgb else 1
    planes = {f"a{i}": _plane(i, ch, components) for i, ch in enumerate(spec.channels)}
    picture = {
        "dCalibration": spec.pixel_um,
        "bCalibrated": True,
        "dObjectiveMag": spec.objective,
        "wsObjectiveName": f"Plan Apo {spec.objective:g}x",
        "sPicturePlanes": {"uiCount": len(planes), "sPlaneNew": planes},
        **spec.extra,
    }
    experiment: dict[str, Any] | None = None
    for kind, count in reversed(spec.loops):
        experiment = _loop(kind, count, spec, experiment)
    chunks = {
        b"ImageAttributesLV!": _record("SLxImageAttributes", attrs),
        b"ImageMetadataSeqLV|0!": _record("SLxPictureMetadata", picture),
        b"ImageTextInfoLV!": _record("SLxImageTextInfo", {"TextInfoItem_5": "synthetic"}),
    }
    if experiment is not None:
        chunks[b"ImageMetadataLV!"] = _record("SLxExperiment", experiment)
    times = np.arange(attrs["uiSequenceCount"], dtype=np.float64) * spec.period_ms
    chunks[b"CustomData|AcqTimesCache!"] = times.tobytes()
    return chunks


def write_nd2(path: Path, frames: np.ndarray, spec: Nd2Spec) -> Path:
    """Write ``frames`` (loops..., Y, X, C: the loops of ``spec``, outermost first; uint8,
    uint16 or float32) as an uncompressed ND2 file."""
    assert frames.ndim == len(spec.loops) + 3
    assert (len(spec.channels), frames.shape[-1]) == (
        (1, 3) if spec.rgb else (frames.shape[-1],) * 2
    )
    chunkmap: list[tuple[bytes, int, int]] = []
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IIQ", MAGIC, 32, 64) + FILE_SIGNATURE + b"Ver3.0".ljust(64, b"\0"))

        def chunk(name: bytes, data: bytes, name_length: int | None = None) -> None:
            fh.write(b"\0" * (-fh.tell() % ALIGN))
            offset = fh.tell()
            stored = name.ljust(name_length or len(name), b"\0")
            fh.write(struct.pack("<IIQ", MAGIC, len(stored), len(data)) + stored + data)
            chunkmap.append((name, offset, len(data)))

        flat = frames.reshape(-1, *frames.shape[-3:])
        for index, frame in enumerate(flat):
            stamp = struct.pack("<d", index * spec.period_ms)
            rows = np.ascontiguousarray(frame).reshape(frame.shape[0], -1).view(np.uint8)
            if spec.row_padding:
                rows = np.pad(rows, ((0, 0), (0, spec.row_padding)), constant_values=0xEE)
            data = stamp + (zlib.compress(rows.tobytes()) if spec.compressed else rows.tobytes())
            chunk(f"ImageDataSeq|{index}!".encode(), data, FRAME_NAME_LENGTH)
        for name, data in _metadata_chunks(spec, frames).items():
            chunk(name, data)
        fh.write(b"\0" * (-fh.tell() % ALIGN))
        location = fh.tell()
        entries = b"".join(n + struct.pack("<QQ", o, s) for n, o, s in chunkmap)
        data = entries + CHUNKMAP_SIGNATURE + struct.pack("<Q", location)
        fh.write(struct.pack("<IIQ", MAGIC, 32, len(data)) + FILEMAP_SIGNATURE + data)
    return path
