"""Composite maths: known channel values through min/max, gamma and colours give known RGB."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cytotile.pipeline.process import ChannelRender, render

colors = st.tuples(*[st.sampled_from([0.0, 0.5, 1.0])] * 3)


@st.composite
def channel(draw: st.DrawFn) -> tuple[int, ChannelRender]:
    lo = draw(st.integers(0, 60000))
    hi = draw(st.integers(lo + 1, 65535))
    gamma = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return draw(st.integers(0, 65535)), ChannelRender(lo, hi, gamma, draw(colors))


def expected(values: list[int], channels: list[ChannelRender]) -> list[float]:
    out = [0.0, 0.0, 0.0]
    for x, ch in zip(values, channels, strict=True):
        v = min(max((x - ch.lo) / (ch.hi - ch.lo), 0.0), 1.0) ** ch.gamma
        for k in range(3):
            out[k] += v * (ch.color or (1.0, 1.0, 1.0))[k]
    return [min(o, 1.0) * 255 for o in out]


@settings(max_examples=200, deadline=None)
@given(st.lists(channel(), min_size=2, max_size=5))
def test_additive_composite(drawn: list[tuple[int, ChannelRender]]) -> None:
    values = [x for x, _ in drawn]
    channels = [ch for _, ch in drawn]
    stack = np.array(values, dtype=np.uint16).reshape(1, 1, -1).repeat(3, axis=0)
    got = render(stack, channels)
    assert got.shape == (3, 1, 3) and got.dtype == np.uint8
    assert np.abs(got[0, 0].astype(float) - expected(values, channels)).max() <= 1.0


@settings(max_examples=100, deadline=None)
@given(channel(), st.sampled_from([8, 16]))
def test_single_grey_channel(drawn: tuple[int, ChannelRender], bits: int) -> None:
    x, ch = drawn
    grey = ChannelRender(ch.lo, ch.hi, ch.gamma)
    got = render(np.full((2, 2, 1), x, dtype=np.uint16), [grey], bits=bits)
    v = min(max((x - ch.lo) / (ch.hi - ch.lo), 0.0), 1.0) ** ch.gamma
    full = 65535 if bits == 16 else 255
    assert got.shape == (2, 2, 1)
    assert abs(int(got[0, 0, 0]) - v * full) <= 1.0 + full * 2e-6


CONSTANT_MAPS = {"RED": (1.0, 0.0, 0.0), "#FF00FF": (1.0, 0.0, 1.0), "WHITE": (1.0, 1.0, 1.0)}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(channel(), st.sampled_from(sorted(CONSTANT_MAPS)), st.booleans()),
        min_size=1,
        max_size=3,
    )
)
def test_constant_colormaps_keep_16_bits(
    drawn: list[tuple[tuple[int, ChannelRender], str, bool]],
) -> None:
    """Constant-colour colormaps (``!`` inverted or not) at 16 bits: every level, not 256."""
    values = [x for (x, _), _, _ in drawn]
    channels = [
        ChannelRender(ch.lo, ch.hi, ch.gamma, colormap=("!" if inv else "") + cid)
        for (_, ch), cid, inv in drawn
    ]
    stack = np.array(values, dtype=np.uint16).reshape(1, 1, -1)
    got = render(stack, channels, bits=16)
    want = [0.0, 0.0, 0.0]
    for x, ((_, ch), cid, inv) in zip(values, drawn, strict=True):
        v = min(max((x - ch.lo) / (ch.hi - ch.lo), 0.0), 1.0) ** ch.gamma
        for k in range(3):
            want[k] += (1 - v if inv else v) * CONSTANT_MAPS[cid][k]
    assert got.dtype == np.uint16
    assert np.abs(got[0, 0].astype(float) - [min(w, 1.0) * 65535 for w in want]).max() <= 1.5
