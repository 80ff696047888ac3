"""JSON request bodies, parsed defensively: a body is refused (``MalformedBody``, 400) before
``json.loads`` could recurse too deep, and numbers JSON does not allow (NaN, infinities) or no
parameter needs (floats that overflow, integers of more than 40 digits) are refused too."""

from __future__ import annotations

import json
import re

from cytotile.api.errors import MalformedBody

MAX_JSON_DEPTH = 32  # arrays and objects nested deeper are refused before json.loads recurses
MAX_JSON_DIGITS = 40  # longer integers are refused (no parameter needs more)
STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _refuse_constant(name: str) -> object:
    raise MalformedBody(f"the JSON body holds {name}, which is not a number JSON allows")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise MalformedBody(f"the JSON body holds {text[:40]}, too large for a number")
    return number


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_DIGITS:
        raise MalformedBody(f"the JSON body holds an integer of more than {MAX_JSON_DIGITS} digits")
    return int(text)


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (brackets inside strings do not count)."""
    import numpy as np

    outside = STRING.sub(b"", body)
    chars = np.frombuffer(outside, dtype=np.uint8)
    steps = np.isin(chars, (0x5B, 0x7B)).astype(np.int64) - np.isin(chars, (0x5D, 0x7D))
    return int(np.cumsum(steps).max(initial=0))


def parse_json(body: bytes) -> object:
    """A JSON request body, or MalformedBody: nesting deeper than MAX_JSON_DEPTH (checked
    before parsing, so json.loads never recurses that deep), NaN and infinities, numbers too
    large for a float and integers too long are refused."""
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        raise MalformedBody(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(
            body, parse_constant=_refuse_constant, parse_float=_finite, parse_int=_bounded_int
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from None
