"""Baseline JPEG entropy coding of quantized DCT coefficients (C extension, ``_jpegdct.c``).

Planes: one ``int16`` array per component, shape ``(rows, cols, 64)`` (blocks; coefficients in
natural order, DC first), the last axis contiguous. Errors are ``ValueError``.
"""

import numpy as np

def decode(stream: bytes, planes: tuple[np.ndarray, ...]) -> bytes:
    """Entropy-decodes a baseline JPEG stream into the planes (component k into ``planes[k]``;
    blocks outside a plane dropped); returns the stream's quantization tables, 4 x 64
    little-endian uint16 in natural order (an undefined table id left zero)."""

def encode(
    planes: tuple[np.ndarray, ...],
    sampling: tuple[tuple[int, int], ...],
    mcus: tuple[int, int],
    tables: tuple[tuple[bytes, bytes, bytes, bytes], ...],
) -> bytes:
    """Entropy-codes ``mcus = (mcus_x, mcus_y)`` interleaved MCUs; ``tables[k]`` is
    ``(dc_codes, dc_sizes, ac_codes, ac_sizes)`` (256 little-endian uint32 codes, 256 uint8
    sizes). Returns the entropy-coded segment (0xFF stuffed, padded with 1-bits)."""

def encode_edge(
    planes: tuple[np.ndarray, ...],
    sampling: tuple[tuple[int, int], ...],
    mcus: tuple[int, int],
    exact_mcus: tuple[int, int],
    tables: tuple[tuple[bytes, bytes, bytes, bytes], ...],
) -> tuple[bytes, bytes]:
    """An edge tile's two scans in one pass: ``(encode(planes, sampling, mcus, tables),
    encode(planes, sampling, exact_mcus, tables))``, byte for byte, each block of the first
    ``exact_mcus`` MCUs coded once for both (``exact_mcus`` within ``mcus``)."""

def gather(
    planes: tuple[np.ndarray, ...],
    sampling: tuple[tuple[int, int], ...],
    mcus: tuple[int, int],
    counts: np.ndarray,
) -> None:
    """Adds the symbols ``encode`` would emit to ``counts`` (int64, ``(len(planes), 2, 256)``:
    DC symbols at ``[k, 0]``, AC symbols at ``[k, 1]``)."""

def count(stream: bytes, counts: np.ndarray) -> None:
    """Entropy-decodes the stream and adds its symbols to ``counts`` (int64, ``(components, 2,
    256)``) as ``gather`` counts the decoded planes (DC differences from the component's previous
    block, restart intervals or not; AC symbols canonical: zero runs only before a value)."""

Tables = tuple[tuple[bytes, bytes, bytes, bytes], ...]

class Prepared:
    """``prepare``'s tables (a capsule)."""

def prepare(sets: tuple[Tables, ...]) -> Prepared:
    """1 or 2 table sets parsed once, for ``transcode`` and ``assemble`` (which also keep there
    what they build from them for the source's AC tables, a few at most)."""

def transcode(
    stream: bytes,
    planes: tuple[np.ndarray, ...],
    sets: tuple[Tables, ...] | Prepared,
    choice: tuple[bytes, int, int, int, int, int, int] | None = None,
    half: tuple[
        tuple[tuple[int, int], ...],
        bytes,
        bool,
        np.ndarray,
        np.ndarray | None,
        tuple[int, int] | None,
    ]
    | None = None,
) -> tuple[bytes, bytes, bytes]:
    """``decode`` into the planes, each block's AC symbols coded at once with the AC table of one
    of ``sets`` (1 or 2, as ``encode`` takes tables) into a bit string. ``choice`` picks each
    MCU's set: ``(grid, cols, rows, x0, y0, tile_x, tile_y)``, ``grid[row * cols + col]`` the set
    of the output tile (``tile_x`` x ``tile_y`` MCUs) the MCU falls in, the stream's first MCU
    being the level's (``x0``, ``y0``); None: set 0. ``half``: ``half``'s arguments but the
    planes, ``(sampling, quant, ycc, out, counts, edge)``: level 1 made from the planes in the
    same call, once decoded. Returns (quantization tables as ``decode``,
    the bit strings, 8 bytes a block in scan order: its DC value (int32) and where its bit
    string ends (uint32, in bits)): a store for ``assemble``."""

def assemble(
    stores: tuple[tuple[bytes, bytes] | None, ...],
    grid: tuple[int, int],
    origin: tuple[int, int],
    source_mcus: tuple[int, int],
    sampling: tuple[tuple[int, int], ...],
    mcus: tuple[int, int],
    keep: tuple[int, int],
    tables: Tables | Prepared,
    which: int = 0,
) -> bytes:
    """What ``encode`` writes for ``mcus`` MCUs of a level of source tiles (``source_mcus`` each)
    transcoded with ``tables``' AC tables: ``stores`` those of the ``grid`` (columns, rows) of
    source tiles the MCUs span, row-major (None: blank blocks, past the level), from MCU
    ``origin`` of the first. The blocks' bit strings are copied, their DC differences coded with
    ``tables``' DC tables (set ``which`` of prepared ones); blocks of the MCUs from ``keep``
    (columns, rows) on are blank (zero coefficients)."""

def half(
    planes: tuple[np.ndarray, ...],
    sampling: tuple[tuple[int, int], ...],
    quant: bytes,
    ycc: bool,
    out: np.ndarray,
    counts: np.ndarray | None = None,
    edge: tuple[int, int] | None = None,
) -> None:
    """The planes' pixels at half scale into ``out`` (uint8 ``(rows, cols, len(planes))``, pixels
    contiguous, rows any stride; a whole number of MCUs, within the planes): each block's 2x2
    box means (4x4), a component sampled at half the frame's rate both ways (4:2:0 chroma) its
    blocks in full (8x8); dequantized by ``quant`` (64 little-endian uint16 a plane, natural
    order), level-shifted, YCbCr -> RGB (JFIF, as libjpeg) when ``ycc``, rounded, clamped. Each
    sample is counted in ``counts[value, band]`` (int64 ``(256, len(planes))``) when given.
    ``edge``: the image's (width, height) within the planes, in full-scale pixels (at most
    twice out's): an odd one pairs its last pixel column or row with itself (its output is the
    IDCT's own there), not with the padding beyond, as a box mean of the image does; every
    component sampled in full."""

def halve(src: np.ndarray, dst: np.ndarray) -> None:
    """2x2 means (rounded) of ``src`` (uint8 ``(rows, cols, bands)``) into ``dst``
    ``(ceil(rows / 2), ceil(cols / 2), bands)``; an odd last row or column is paired with
    itself."""

def histogram(pixels: np.ndarray, counts: np.ndarray, weight: int) -> None:
    """Adds ``weight`` to ``counts[value, band]`` (int64 ``(256, bands)``) for every sample of
    ``pixels`` (uint8 ``(rows, cols, bands)``)."""

class Step:
    """A crew step (``step_new``'s capsule): transcodes and assemblies opened, run, finished."""

def step_new(planes: tuple[np.ndarray, ...]) -> Step:
    """A step whose transcodes decode into planes of these sizes (each thread's own)."""

def step_transcode(
    step: Step,
    stream: bytes | memoryview,
    sets: tuple[Tables, ...] | Prepared,
    choice: tuple[bytes, int, int, int, int, int, int] | None = None,
    half: tuple[object, ...] | None = None,
) -> int:
    """``transcode``'s work (its arguments but the planes) opened in the step: its index."""

def step_assemble(
    step: Step,
    stores: tuple[tuple[bytes, bytes] | None, ...],
    grid: tuple[int, int],
    origin: tuple[int, int],
    source_mcus: tuple[int, int],
    sampling: tuple[tuple[int, int], ...],
    mcus: tuple[int, int],
    keep: tuple[int, int],
    tables: Tables | Prepared,
    which: int = 0,
    head: bytes | None = None,
) -> int:
    """``assemble``'s work opened in the step: its index."""

def step_run(step: Step, planes: tuple[np.ndarray, ...]) -> None:
    """The step's jobs no thread has taken, run here without the GIL, decoding into planes."""

def step_start(step: Step, workers: int) -> None:
    """The step begun by up to ``workers`` of the codec's own threads (pthreads, no GIL)."""

def step_join(step: Step, planes: tuple[np.ndarray, ...]) -> None:
    """``step_run`` here, then the codec's workers at the step waited for."""

def step_finish(step: Step) -> list[object]:
    """Each job's result (``transcode``'s or ``assemble``'s) or its exception, in order."""
