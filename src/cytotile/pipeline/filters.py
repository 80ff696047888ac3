"""Image filters: global thresholds computed on the rendered 8-bit luminance, and PIMS's colour
deconvolution filters (``PIXEL``, :mod:`cytotile.pipeline.deconvolution`) on the rendered RGB.

A threshold filter turns the output into a binary image (foreground white: intensities above
the threshold). It is computed on the pixels of the answer itself (a tile thresholds on its
own histogram, as a thumbnail does on the whole image's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cytotile.errors import BadParameter

if TYPE_CHECKING:
    import numpy as np

FILTERS: dict[str, tuple[str, str]] = {
    "OTSU": ("Otsu Threshold", "Threshold maximizing the between-class variance (Otsu, 1979)."),
    "ISODATA": (
        "Iso Data Threshold",
        "Threshold equal to the mean of the means of the two classes it separates "
        "(Ridler & Calvard, 1978).",
    ),
    "YEN": ("Yen Threshold", "Threshold maximizing the entropic correlation (Yen et al., 1995)."),
    "MINIMUM": (
        "Minimum Threshold",
        "Threshold at the valley between the two peaks of the histogram, smoothed until it has "
        "two (Prewitt & Mendelsohn, 1966); IsoData when it never becomes bimodal.",
    ),
    "MEAN": ("Mean Threshold", "Threshold at the mean intensity."),
}
MAX_SMOOTHING = 10_000
#: other ids of a filter (PIMS: BINARY is ImageJ's default auto threshold, a variant of IsoData)
#: and the colour deconvolution filters' aliases as PIMS 1.x lists them (recorded, issue 13)
ALIASES: dict[str, tuple[str, ...]] = {
    "ISODATA": ("BINARY",),
    "HEDAB-HEMATOXYLIN": ("HEDAB-HAEMATOXYLIN",),
    "HDAB-HEMATOXYLIN": ("HDAB-HAEMATOXYLIN",),
    "HDAB-DAB": ("HDAB-DAB",),
    "HE-HEMATOXYLIN": ("HE-HAEMATOXYLIN",),
    "HE-EOSIN": ("HE-EOSIN",),
    "RGB-RED": ("R_RGB",),
    "RGB-GREEN": ("G_RGB",),
    "RGB-BLUE": ("B_RGB",),
    "CMY-CYAN": ("C_CMY",),
    "CMY-MAGENTA": ("M_CMY",),
    "CMY-YELLOW": ("Y_CMY",),
}
#: ids cytotile used before it had PIMS's recorded ones: still accepted, not listed
FORMER_IDS = {"HEDAB-H": "HEDAB-HEMATOXYLIN", "HEDAB-E": "HEDAB-EOSIN"}


def is_pixel(fid: str) -> bool:
    """A colour deconvolution filter (pixel by pixel) rather than a global threshold."""
    from cytotile.pipeline import deconvolution

    return fid in deconvolution.FILTERS


def canonical(text: str) -> str | None:
    """The filter id of an id or alias (case-insensitive), None when unknown."""
    fid = text.strip().upper()
    if fid in FILTERS or is_pixel(fid):
        return fid
    if fid in FORMER_IDS:
        return FORMER_IDS[fid]
    return next((f for f, aliases in ALIASES.items() if fid in aliases), None)


def normalize_id(text: str) -> str | None:
    fid = text.strip().upper()
    if fid in ("", "NONE"):
        return None
    known = canonical(fid)
    if known:
        return known
    raise BadParameter(f"filters: unknown filter {text!r}; known: those of /filters")


def describe() -> list[dict[str, object]]:
    """The ``/filters`` items: PIMS's filter fields (id, aliases, name, type, description)."""
    from cytotile.pipeline import deconvolution

    thresholds: list[dict[str, object]] = [
        {
            "id": fid,
            "aliases": list(ALIASES.get(fid, ())),
            "name": name,
            "type": "GLOBAL",
            "description": text,
        }
        for fid, (name, text) in FILTERS.items()
    ]
    pixel: list[dict[str, object]] = [
        {
            "id": fid,
            "aliases": list(ALIASES.get(fid, ())),
            "name": name,
            "type": "PIXEL",
            "description": deconvolution.describe(fid),
        }
        for fid, (_, _, name) in deconvolution.FILTERS.items()
    ]
    return thresholds + pixel


def threshold(fid: str, grey: np.ndarray) -> int:
    """The threshold of ``fid`` for an 8-bit image: foreground is ``grey > threshold``."""
    import numpy as np

    hist = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    total = hist.sum()
    if total == 0 or np.count_nonzero(hist) < 2:
        return int(grey.max()) if grey.size else 0
    if fid == "MEAN":
        return int(np.floor((hist * levels).sum() / total))
    if fid == "ISODATA":
        return _isodata(hist, levels)
    if fid == "YEN":
        return _yen(hist)
    if fid == "MINIMUM":
        return _minimum(hist, levels)
    return _otsu(hist, levels)


def _otsu(hist: np.ndarray, levels: np.ndarray) -> int:
    import numpy as np

    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * levels)
    mean0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mean1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return int(np.argmax(between[:-1]))


def _isodata(hist: np.ndarray, levels: np.ndarray) -> int:
    import numpy as np

    t = float((hist * levels).sum() / hist.sum())
    for _ in range(256):
        low, high = levels <= t, levels > t
        if hist[low].sum() == 0 or hist[high].sum() == 0:
            break
        m_low = (hist[low] * levels[low]).sum() / hist[low].sum()
        m_high = (hist[high] * levels[high]).sum() / hist[high].sum()
        new = (m_low + m_high) / 2
        if abs(new - t) < 0.5:
            t = new
            break
        t = new
    return int(np.floor(t))


def _peaks(smooth: np.ndarray) -> np.ndarray:
    """Indexes of the local maxima (a plateau counts once, at its start; not the ends)."""
    import numpy as np

    slope = np.sign(np.diff(smooth))
    for i in range(len(slope) - 2, -1, -1):  # a flat step takes the direction that follows
        if slope[i] == 0:
            slope[i] = slope[i + 1]
    peaks: np.ndarray = np.flatnonzero((slope[:-1] > 0) & (slope[1:] < 0)) + 1
    return peaks


def _minimum(hist: np.ndarray, levels: np.ndarray) -> int:
    import numpy as np

    smooth = hist.astype(np.float64)
    kernel = np.full(3, 1 / 3)
    for _ in range(MAX_SMOOTHING):
        peaks = _peaks(smooth)
        if len(peaks) == 2:
            low, high = int(peaks[0]), int(peaks[1])
            return low + int(np.argmin(smooth[low : high + 1]))
        if len(peaks) < 2:
            break
        smooth = np.convolve(smooth, kernel, mode="same")
    return _isodata(hist, levels)


def _yen(hist: np.ndarray) -> int:
    import numpy as np

    pmf = hist / hist.sum()
    p1 = np.cumsum(pmf)
    p1_sq = np.cumsum(pmf**2)
    p2_sq = np.cumsum((pmf**2)[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = np.log(((p1[:-1] * (1.0 - p1[:-1])) ** 2) / (p1_sq[:-1] * p2_sq[1:]))
    crit = np.where(np.isfinite(crit), crit, -np.inf)
    return int(np.argmax(crit))
