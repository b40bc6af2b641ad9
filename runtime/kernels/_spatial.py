"""Shared geometry of the sliding-window ops (Conv*, *Pool, Col2Im, DeformConv).

No kernels are registered here. The helpers resolve ``auto_pad``/``pads``/``strides``/
``dilations`` into one :class:`Window`, pad an NC[spatial] tensor once, and hand out
*views* of it (one per kernel tap, or one strided im2col view) so callers never loop over
pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property, lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tensorbridge.ir.window_math import SlidingWindow, sliding_window


class Window(SlidingWindow):
    """A resolved sliding window (:class:`ir.window_math.SlidingWindow`) plus its taps."""

    @cached_property
    def taps(self) -> list[tuple[int, ...]]:
        """Every kernel tap, in row-major order."""
        return list(np.ndindex(*self.kernel))

    @cached_property
    def fit_end(self) -> tuple[int, ...]:  # type: ignore[override]  # the same value, computed once
        return SlidingWindow.fit_end.fget(self)  # type: ignore[attr-defined]


def _ints(values: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if values is None else tuple(map(int, values))


def make_window(
    in_shape: Sequence[int],
    kernel: Sequence[int] | None,
    *,
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    auto_pad: str = "NOTSET",
    ceil_mode: int = 0,
    op: str = "Conv",
) -> Window:
    """Resolve the attributes of a conv/pool node into a :class:`Window` by the shared
    rules of :func:`ir.window_math.sliding_window` (ValueError naming ``op`` when bad).

    Windows are immutable and depend only on these arguments, so they are cached: a plan
    runs the same few windows on every call, and resolving one costs ~10 us of Python,
    a fifth of a 7x7 ShuffleNet conv."""
    # The key is the tuples as given (numpy integers hash and compare like ints); they are
    # made ints only when a window is first resolved: converting them on every call cost
    # 1.6 us of a 10 us conv step.
    return _cached_window(tuple(in_shape), _tuple(kernel), _tuple(strides), _tuple(dilations),
                          _tuple(pads), auto_pad, int(ceil_mode), op)


def _tuple(values: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if values is None else tuple(values)


@lru_cache(maxsize=4096)
def _cached_window(in_shape: tuple[int, ...], kernel: tuple[int, ...] | None,
                   strides: tuple[int, ...] | None, dilations: tuple[int, ...] | None,
                   pads: tuple[int, ...] | None, auto_pad: str, ceil_mode: int, op: str) -> Window:
    win = sliding_window(op, _ints(in_shape) or (), _ints(kernel), strides=_ints(strides),
                         dilations=_ints(dilations), pads=_ints(pads), auto_pad=auto_pad,
                         ceil_mode=ceil_mode)
    return Window(**vars(win))


def pad_for_window(x: np.ndarray, win: Window, value: float | int = 0) -> np.ndarray:
    """Pad the spatial axes of ``x`` so every window position is in bounds.

    The end padding is grown when a ceil-mode window reaches past it (those cells hold
    ``value`` too) and trimmed when the last windows never reach it. Returns ``x`` itself
    when nothing needs padding.
    """
    return pad_spatial(x, win.pads_begin, win.fit_end, value)


def pad_spatial(x: np.ndarray, begin: Sequence[int], end: Sequence[int],
                value: float | int = 0) -> np.ndarray:
    """Pad (positive) or crop (negative) the trailing len(begin) axes of ``x``."""
    if not any(begin) and not any(end):
        return x
    lead = x.ndim - len(begin)
    crop = tuple(slice(max(-b, 0), s - max(-e, 0))
                 for b, e, s in zip(begin, end, x.shape[lead:], strict=True))
    x = x[(Ellipsis, *crop)]  # type: ignore[arg-type]
    if not any(b > 0 for b in begin) and not any(e > 0 for e in end):
        return x
    shape = list(x.shape[:lead]) + [
        s + max(b, 0) + max(e, 0) for s, b, e in zip(x.shape[lead:], begin, end, strict=True)
    ]
    out = np.empty(shape, dtype=x.dtype)
    inner = tuple(slice(max(b, 0), max(b, 0) + s)
                  for b, s in zip(begin, x.shape[lead:], strict=True))
    out[(Ellipsis, *inner)] = x  # type: ignore[index]
    # Fill only the border slabs: filling the whole buffer first would write it twice.
    for a, sl in enumerate(inner):
        before = (slice(None),) * (lead + a)
        out[(*before, slice(0, sl.start))] = value
        out[(*before, slice(sl.stop, None))] = value
    return out


def tap_view(xp: np.ndarray, win: Window, tap: Sequence[int]) -> np.ndarray:
    """The (..., *out_shape) view of padded ``xp`` that kernel tap ``tap`` reads."""
    idx = tuple(
        slice(t * d, t * d + (o - 1) * s + 1, s)
        for t, d, o, s in zip(tap, win.dilations, win.out_shape, win.strides, strict=True)
    )
    return xp[(Ellipsis, *idx)]  # type: ignore[arg-type]


def im2col_view(xp: np.ndarray, win: Window) -> np.ndarray:
    """Read-only view of padded ``xp`` (N, C, *padded) as (N, C, *kernel, *out_shape)."""
    n = len(win.kernel)
    lead, sp = xp.strides[:-n], xp.strides[-n:]
    strides = (*lead, *(s * d for s, d in zip(sp, win.dilations, strict=True)),
               *(s * st for s, st in zip(sp, win.strides, strict=True)))
    shape = (*xp.shape[:-n], *win.kernel, *win.out_shape)
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype to do arithmetic in: float32 for the narrow floats numpy/BLAS handle badly."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return dtype
    return np.dtype(np.float32)


def prod(values: Sequence[int]) -> int:
    return math.prod(int(v) for v in values)
