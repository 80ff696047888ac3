"""Large working buffers in memory that the kernel can map in huge pages.

A conversion's coefficient planes are a few MB each, allocated once and first touched while a
band decodes into them. In 4 KB pages that is one page fault per 4 KB: on CMU-1-Small-Region,
1,700 faults and about 5 ms of kernel time (a third of it on the first row's critical path), in
every fresh conversion process. :func:`zeroed` carves the arrays out of one allocation whose
middle is aligned on 2 MB, which numpy advises the kernel to back with transparent huge pages
(``madvise(MADV_HUGEPAGE)`` for allocations of 4 MB or more): a few faults instead (measured:
7 MB first touched in 158 faults and 1.4 ms, against 1,689 faults and 4.9 ms). Where the kernel
gives no huge pages (``transparent_hugepage`` set to ``never``), the arrays are as before.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: the x86-64 and arm64 transparent huge page size
HUGE_PAGE = 2 * 1024 * 1024


def zeroed(shapes: list[tuple[int, ...]], dtype: str) -> tuple[np.ndarray, ...]:
    """Zeroed arrays of ``shapes``, C-contiguous; carved from one huge-page-aligned allocation
    (each on a cache line) when together they are at least :data:`HUGE_PAGE` bytes."""
    import numpy as np

    item = np.dtype(dtype).itemsize
    sizes = [-(-math.prod(shape) * item // 64) * 64 for shape in shapes]  # each 64-aligned
    total = sum(sizes)
    if total < HUGE_PAGE:
        return tuple(np.zeros(shape, dtype) for shape in shapes)
    raw = np.zeros(total + HUGE_PAGE, np.uint8)  # zeroed by the kernel, as it maps it
    at = -raw.ctypes.data % HUGE_PAGE
    out = []
    for shape, size in zip(shapes, sizes, strict=True):
        count = math.prod(shape)
        out.append(raw[at : at + count * item].view(dtype).reshape(shape))
        at += size
    return tuple(out)
