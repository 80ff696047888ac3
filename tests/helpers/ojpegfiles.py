"""Old-style JPEG TIFFs (Compression 6, TIFF 6.0 section 22), written by hand: a baseline JPEG
encoded by libjpeg (Pillow) is taken apart into its quantization and Huffman tables, stored in
the JPEGQTables / JPEGDCTables / JPEGACTables tags, and its entropy-coded scan is the one strip,
as old scanners wrote them; or kept whole, named by JPEGInterchangeFormat (the other layout).
``ojpeg_reference`` decodes such a file without libtiff: the JPEG stream rebuilt from the tags
(or the one named), decoded by libjpeg, then TIFF 6.0's YCbCr -> RGB with the file's
ReferenceBlackWhite, in numpy."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np

SHORT, LONG, RATIONAL = 3, 4, 5


def _segments(jpeg: bytes) -> tuple[dict[int, list[bytes]], bytes]:
    """The marker segments of a baseline JPEG (marker -> bodies) and its entropy-coded scan."""
    found: dict[int, list[bytes]] = {}
    pos = 2
    while True:
        marker = jpeg[pos + 1]
        length = struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
        body = jpeg[pos + 4 : pos + 2 + length]
        found.setdefault(marker, []).append(body)
        pos += 2 + length
        if marker == 0xDA:
            return found, jpeg[pos : jpeg.rindex(b"\xff\xd9")]


def _tables(found: dict[int, list[bytes]]) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """Quantization tables (id -> 64 bytes, zigzag) and Huffman tables ((class << 4 | id) ->
    16 counts + values) of the segments."""
    quant: dict[int, bytes] = {}
    for body in found[0xDB]:
        while body:
            quant[body[0] & 15] = body[1:65]
            body = body[65:]
    huff: dict[int, bytes] = {}
    for body in found[0xC4]:
        while body:
            n = 17 + sum(body[1:17])
            huff[body[0]] = body[1:n]
            body = body[n:]
    return quant, huff


def write_ojpeg(
    path: Path, pixels: np.ndarray, *, reference_black_white: tuple[int, ...] | None = None
) -> Path:
    """``pixels`` (h, w, 3) RGB or (h, w) grey as an old-style JPEG TIFF (YCbCr 4:2:0 or grey),
    one strip; ``reference_black_white`` (6 values) is declared as such for YCbCr."""
    from PIL import Image

    grey = pixels.ndim == 2
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=92, subsampling=2)
    found, scan = _segments(buffer.getvalue())
    quant, huff = _tables(found)
    sof = found[0xC0][0]
    h, w = struct.unpack(">HH", sof[1:5])
    components = [sof[6 + 3 * i : 9 + 3 * i] for i in range(sof[5])]
    sos = found[0xDA][0]
    selectors = [sos[2 + 2 * i] for i in range(sos[0])]
    q_blobs = [quant[c[2]] for c in components]
    dc_blobs = [huff[0x00 | (s >> 4)] for s in selectors]
    ac_blobs = [huff[0x10 | (s & 15)] for s in selectors]
    blobs = [*q_blobs, *dc_blobs, *ac_blobs, scan]
    n = len(components)
    entries: list[tuple[int, int, list[int]]] = [
        (256, LONG, [w]),
        (257, LONG, [h]),
        (258, SHORT, [8] * n),
        (259, SHORT, [6]),
        (262, SHORT, [1 if grey else 6]),
        (273, LONG, [0]),  # StripOffsets: filled below
        (277, SHORT, [n]),
        (278, LONG, [h]),
        (279, LONG, [len(scan)]),
        (284, SHORT, [1]),
        (512, SHORT, [1]),  # JPEGProc: baseline
        (519, LONG, [0] * n),
        (520, LONG, [0] * n),
        (521, LONG, [0] * n),
    ]
    if not grey:
        hs, vs = components[0][1] >> 4, components[0][1] & 15
        entries.append((530, SHORT, [hs, vs]))
        rbw = reference_black_white or (0, 255, 128, 255, 128, 255)
        entries.append((532, RATIONAL, [v for x in rbw for v in (x, 1)]))
    size = {SHORT: 2, LONG: 4, RATIONAL: 4}
    ifd_size = 2 + 12 * len(entries) + 4
    extra = 8 + ifd_size  # out-of-line values, then the blobs
    out_of_line = b""
    records = []
    values_at: dict[int, int] = {}
    for tag, kind, values in entries:
        count = len(values) // (2 if kind == RATIONAL else 1)
        packed = struct.pack(f"<{len(values)}{'H' if kind == SHORT else 'I'}", *values)
        if len(values) * size[kind] > 4:
            values_at[tag] = extra + len(out_of_line)
            out_of_line += packed
        records.append((tag, kind, count, packed))
    start = extra + len(out_of_line)
    offsets, data = [], b""
    for blob in blobs:
        offsets.append(start + len(data))
        data += blob
    patched = {273: [offsets[-1]], 519: offsets[:n], 520: offsets[n : 2 * n]}
    patched[521] = offsets[2 * n : 3 * n]
    body = struct.pack("<H", len(records))
    tail = out_of_line
    for tag, kind, count, packed in records:
        if tag in patched:
            packed = struct.pack(f"<{len(patched[tag])}I", *patched[tag])
            if tag in values_at:
                at = values_at[tag] - extra
                tail = tail[:at] + packed + tail[at + len(packed) :]
        field = struct.pack("<I", values_at[tag]) if tag in values_at else packed.ljust(4, b"\0")
        body += struct.pack("<HHI", tag, kind, count) + field
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + body + b"\0\0\0\0" + tail + data)
    return path


def write_ojpeg_interchange(path: Path, rgb: np.ndarray) -> Path:
    """``rgb`` as an old-style JPEG TIFF of the other layout: a whole JPEG stream named by
    JPEGInterchangeFormat (tables and all), the strip its entropy-coded scan inside it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=92, subsampling=2)
    jpeg = buffer.getvalue()
    pos = 2
    while jpeg[pos + 1] != 0xDA:  # to the scan: after the SOS segment
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    scan_at = pos + 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    h, w = rgb.shape[:2]
    entries: list[tuple[int, int, list[int]]] = [
        (256, LONG, [w]),
        (257, LONG, [h]),
        (258, SHORT, [8, 8, 8]),
        (259, SHORT, [6]),
        (262, SHORT, [6]),
        (273, LONG, [0]),  # the scan, inside the stream: filled below
        (277, SHORT, [3]),
        (278, LONG, [h]),
        (279, LONG, [jpeg.rindex(b"\xff\xd9") - scan_at]),
        (284, SHORT, [1]),
        (513, LONG, [0]),  # JPEGInterchangeFormat: filled below
        (514, LONG, [len(jpeg)]),
        (530, SHORT, [2, 2]),
        (532, RATIONAL, [0, 1, 255, 1, 128, 1, 255, 1, 128, 1, 255, 1]),
    ]
    extra_at = 8 + 2 + 12 * len(entries) + 4
    out_of_line, fields = b"", []
    for tag, kind, values in entries:
        packed = struct.pack(f"<{len(values)}{'H' if kind == SHORT else 'I'}", *values)
        count = len(values) // (2 if kind == RATIONAL else 1)
        if len(packed) > 4:
            fields.append((tag, kind, count, struct.pack("<I", extra_at + len(out_of_line))))
            out_of_line += packed
        else:
            fields.append((tag, kind, count, packed.ljust(4, b"\0")))
    jpeg_at = extra_at + len(out_of_line)
    fixed = {273: struct.pack("<I", jpeg_at + scan_at), 513: struct.pack("<I", jpeg_at)}
    body = struct.pack("<H", len(fields)) + b"".join(
        struct.pack("<HHI", t, k, c) + fixed.get(t, f) for t, k, c, f in fields
    )
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + body + bytes(4) + out_of_line + jpeg)
    return path


def ojpeg_reference(path: Path) -> np.ndarray:
    """The pixels of an old-style JPEG TIFF's first strip or tile set, decoded without libtiff."""
    import pyvips
    import tifffile

    raw = path.read_bytes()
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        tag: Any = page.tags
        if "JPEGInterchangeFormat" in tag:  # a whole stream: libjpeg decodes it as it is
            at = int(np.ravel(tag["JPEGInterchangeFormat"].value)[0])
            length = int(np.ravel(tag["JPEGInterchangeFormatLength"].value)[0])
            rbw = _reference(tag["ReferenceBlackWhite"].value)
            return _to_rgb(_ycbcr(raw[at : at + length]), rbw)
        n = int(page.samplesperpixel)
        width, height = int(page.imagewidth), int(page.imagelength)
        seg_w = int(page.tilewidth) or width
        seg_h = int(page.tilelength) or int(tag["RowsPerStrip"].value)
        sub = tag["YCbCrSubSampling"].value if n == 3 else (1, 1)
        rbw = _reference(tag["ReferenceBlackWhite"].value) if n == 3 else []
        q = [raw[o : o + 64] for o in tag["JPEGQTables"].value]

        def huff(o: int) -> bytes:
            return raw[o : o + 16 + sum(raw[o : o + 16])]

        dc = [huff(o) for o in tag["JPEGDCTables"].value]
        ac = [huff(o) for o in tag["JPEGACTables"].value]
        segments = list(zip(page.dataoffsets, page.databytecounts, strict=True))

    def seg(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    head = b"\xff\xd8" + seg(0xDB, b"".join(bytes([i]) + q[i] for i in range(n)))
    head += seg(0xC4, b"".join(bytes([i]) + dc[i] for i in range(n)) + b"".join(
        bytes([0x10 | i]) + ac[i] for i in range(n)))  # fmt: skip
    sampling = [(sub[0] << 4 | sub[1]) if i == 0 else 0x11 for i in range(n)]
    comps = b"".join(bytes([i + 1, sampling[i], i]) for i in range(n))
    head += seg(0xC1, bytes([8]) + struct.pack(">HH", seg_h, seg_w) + bytes([n]) + comps)
    scan = bytes([n]) + b"".join(bytes([i + 1, i << 4 | i]) for i in range(n)) + bytes([0, 63, 0])
    head += seg(0xDA, scan)
    out = np.zeros((height, width, 3 if n == 3 else 1))
    per_row = -(-width // seg_w)
    for k, (offset, count) in enumerate(segments):
        stream = head + raw[offset : offset + count] + b"\xff\xd9"
        if n == 3:
            decoded = _ycbcr(stream)
        else:
            decoded = pyvips.Image.jpegload_buffer(stream).numpy()[..., None].astype(float)
        y0, x0 = (k // per_row) * seg_h, (k % per_row) * seg_w
        h, w = min(seg_h, height - y0), min(seg_w, width - x0)
        out[y0 : y0 + h, x0 : x0 + w] = decoded[:h, :w]
    if n == 1:
        return out[..., 0].round().astype(np.uint8)
    return _to_rgb(out, rbw)


def _reference(value: Any) -> list[float]:
    """ReferenceBlackWhite's 6 values (tifffile gives 6, or 12 numerators and denominators)."""
    flat = [float(v) for v in np.ravel(value)]
    return [flat[i] / flat[i + 1] for i in range(0, 12, 2)] if len(flat) == 12 else flat


def _ycbcr(stream: bytes) -> np.ndarray:
    """The YCbCr samples of a JPEG stream as libjpeg decodes them (upsampled, no conversion)."""
    from PIL import Image

    image = Image.open(io.BytesIO(stream))
    image.draft("YCbCr", image.size)
    return np.asarray(image).astype(float)


def _to_rgb(ycbcr: np.ndarray, rbw: list[float]) -> np.ndarray:
    """TIFF 6.0: samples scaled by ReferenceBlackWhite, then the CCIR 601-1 conversion."""
    y = (ycbcr[..., 0] - rbw[0]) * 255 / (rbw[1] - rbw[0])
    cb = (ycbcr[..., 1] - rbw[2]) * 127 / (rbw[3] - rbw[2])
    cr = (ycbcr[..., 2] - rbw[4]) * 127 / (rbw[5] - rbw[4])
    r = y + 1.402 * cr
    b = y + 1.772 * cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).round().astype(np.uint8)
