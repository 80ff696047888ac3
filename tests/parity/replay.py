"""Replaying PIMS's recorded answers (tests/parity/pims/*.json, scripts/record_pims.py) against
cytotile: the calls, the summary of an image answer, and the field-by-field comparison."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyvips
from starlette.testclient import TestClient

FIXTURES = Path(__file__).parent / "pims"
#: a number within rounding: PIMS rounds some values (physical sizes, histogram bounds) where
#: cytotile keeps them as computed, and both print floats their own way
RELATIVE, ABSOLUTE = 1e-3, 1e-6
#: an image answer's 8x8 grid of band means may differ by this much (0-255; x257 for 16-bit
#: answers), mean over cells: two JPEG encoders and resamplers of the same pixels stay under it
GRID_TOLERANCE = 3.0
#: two histograms of the same pixels: the largest difference of their cumulative
#: distributions (Kolmogorov's distance, 0 to 1) may be this much (cytotile counts its stored
#: pixels, PIMS the original's: two decoders and encoders move values by a level or two)
HISTOGRAM_TOLERANCE = 0.02


@dataclass(frozen=True)
class Diff:
    url: str  # the recorded url, "{image}" for the image's path
    field: str  # "status", "content_type", "image/width", or the JSON path "image/bits"
    pims: Any
    ours: Any

    def __str__(self) -> str:
        return f"{self.url} {self.field}: PIMS {self.pims!r}, cytotile {self.ours!r}"


def load(key: str) -> Any:
    return json.loads((FIXTURES / f"{key}.json").read_text())


def summary(data: bytes) -> dict[str, Any]:
    """What scripts/record_pims.py keeps of an image answer (the same computation)."""
    image = pyvips.Image.new_from_buffer(data, "")
    pixels = np.asarray(image.numpy(), dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    rows = np.array_split(np.arange(pixels.shape[0]), 8)
    cols = np.array_split(np.arange(pixels.shape[1]), 8)
    grid = [[[round(float(v), 1) for v in pixels[np.ix_(r, c)].mean(axis=(0, 1))] for c in cols]
            for r in rows if len(r)]  # fmt: skip
    return {"width": image.width, "height": image.height, "bands": image.bands,
            "format": image.format, "grid": grid}  # fmt: skip


def answer(client: TestClient, recorded: dict[str, Any], path: str) -> dict[str, Any]:
    """cytotile's answer to the recorded request, in the recording's shape."""
    url = recorded["url"].replace("{image}", path)
    response = client.request(recorded["method"], url, json=recorded.get("body"),
                              headers=recorded.get("headers", {}))  # fmt: skip
    kind = response.headers.get("content-type", "").split(";")[0]
    out: dict[str, Any] = {"status": response.status_code, "content_type": kind}
    if kind == "application/json":
        out["json"] = response.json()
    elif kind.startswith("image/"):
        out["image"] = summary(response.content)
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _key(item: Any) -> Any:
    """Metadata items are matched by namespace and key, listed formats and filters by id."""
    if isinstance(item, dict) and {"namespace", "key"} <= item.keys():
        return f"{item['namespace']}.{item['key']}"
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return item["id"]
    return None


def _distribution(histogram: dict[str, Any]) -> np.ndarray:
    """A histogram answer's counts over its n_bins (they start at first_bin), normalized."""
    full = np.zeros(int(histogram["n_bins"]), dtype=np.float64)
    counts = np.asarray(histogram["histogram"], dtype=np.float64)
    first = int(histogram["first_bin"])
    full[first : first + len(counts)] = counts[: len(full) - first]
    return full / max(full.sum(), 1.0)


def histogram_distance(pims: dict[str, Any], ours: dict[str, Any]) -> float:
    """Kolmogorov's distance of two histogram answers: max |CDF difference|."""
    first, second = _distribution(pims), _distribution(ours)
    if first.shape != second.shape:
        return float("inf")
    return float(np.abs(np.cumsum(first) - np.cumsum(second)).max())


def fields(url: str, pims: Any, ours: Any, path: str = "") -> list[Diff]:
    """Every field PIMS sends, compared: missing, of another value (numbers within rounding
    are equal), or of another length (lists)."""
    if isinstance(pims, dict):
        if not isinstance(ours, dict):
            return [Diff(url, path or "/", "object", type(ours).__name__)]
        out = []
        for key, value in pims.items():
            sub = f"{path}/{key}" if path else key
            if key not in ours:
                out.append(Diff(url, sub, value, "missing"))
            elif key == "histogram" and "first_bin" in pims and "first_bin" in ours:
                distance = histogram_distance(pims, ours)
                if distance > HISTOGRAM_TOLERANCE:
                    out.append(Diff(url, sub, 0, round(distance, 3)))
                if len(value) != len(ours[key]):
                    out.append(Diff(url, f"{sub}/length", len(value), len(ours[key])))
            else:
                out += fields(url, value, ours[key], sub)
        return out
    if isinstance(pims, list):
        if not isinstance(ours, list):
            return [Diff(url, path, "list", type(ours).__name__)]
        if pims and all(_key(i) for i in pims):
            mine = {_key(i): i for i in ours}
            out = []
            for item in pims:
                sub = f"{path}/{_key(item)}"
                if _key(item) not in mine:
                    out.append(Diff(url, sub, item.get("value"), "missing"))
                else:
                    out += fields(url, item, mine[_key(item)], sub)
            return out
        out = [] if len(pims) == len(ours) else [Diff(url, f"{path}/length", len(pims), len(ours))]
        for index, (a, b) in enumerate(zip(pims, ours, strict=False)):
            out += fields(url, a, b, f"{path}/{index}")
        return out
    if _number(pims) and _number(ours):
        if abs(pims - ours) <= max(ABSOLUTE, RELATIVE * abs(pims)):
            return []
    elif pims == ours:
        return []
    return [Diff(url, path, pims, ours)]


def grid_difference(a: list[Any], b: list[Any]) -> float:
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if first.shape != second.shape:
        return float("inf")
    return float(np.abs(first - second).mean())


def compare(recorded: dict[str, Any], ours: dict[str, Any]) -> list[Diff]:
    """The differences of one answer (status first: nothing else is compared when it differs)."""
    url = recorded["url"]
    if recorded["status"] != ours["status"]:
        return [Diff(url, "status", recorded["status"], ours["status"])]
    out = []
    if recorded["content_type"] != ours["content_type"]:
        out.append(Diff(url, "content_type", recorded["content_type"], ours["content_type"]))
    if recorded["status"] != 200:
        return out  # an error's body is the server's own words
    if "json" in recorded:
        out += fields(url, recorded["json"], ours.get("json"))
    if "image" in recorded and "image" in ours:
        theirs, mine = recorded["image"], ours["image"]
        for key in ("width", "height", "bands", "format"):
            if theirs[key] != mine[key]:
                out.append(Diff(url, f"image/{key}", theirs[key], mine[key]))
        difference = grid_difference(theirs["grid"], mine["grid"])
        if difference > GRID_TOLERANCE * (257 if theirs["format"] == "ushort" else 1):
            out.append(Diff(url, "image/pixels", 0, round(difference, 1)))
    return out
