"""Shared geometry of the sliding-window ops (Conv*, *Pool, Col2Im, DeformConv).

No kernels are registered here. The helpers resolve ``auto_pad``/``pads``/``strides``/
``dilations`` into one :class:`Window`, pad an NC[spatial] tensor once, and hand out
*views* of it (one per kernel tap, or one strided im2col view) so callers never loop over
pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


@dataclass(frozen=True)
class Window:
    """A resolved sliding window over the spatial axes (all tuples have one entry per axis)."""

    in_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads_begin: tuple[int, ...]
    pads_end: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def extents(self) -> tuple[int, ...]:
        """Span of one dilated kernel along each axis."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations, strict=True))

    @property
    def taps(self) -> list[tuple[int, ...]]:
        """Every kernel tap, in row-major order."""
        return list(np.ndindex(*self.kernel))


def _per_axis(values: Sequence[int] | None, n: int, default: int, name: str) -> tuple[int, ...]:
    if values is None or len(values) == 0:
        return (default,) * n
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values, expected one per spatial axis ({n})")
    return tuple(int(v) for v in values)


def _explicit_out(size: int, begin: int, end: int, extent: int, stride: int,
                  ceil_mode: int) -> int:
    """Window positions along one axis with explicit pads (floor, or ceil_mode)."""
    span = size + begin + end - extent
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + begin:
        out -= 1  # the last window would start in the end padding
    return out


def make_window(
    in_shape: Sequence[int],
    kernel: Sequence[int],
    *,
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    auto_pad: str = "NOTSET",
    ceil_mode: int = 0,
) -> Window:
    """Resolve the attributes of a conv/pool node into a :class:`Window`.

    SAME_* gives ``out = ceil(in / stride)`` whatever ``ceil_mode`` says (as onnxruntime
    and TF do); explicit pads follow the PyTorch formula, including its rule that a
    ceil-mode window starting inside the end padding is dropped.
    """
    n = len(in_shape)
    kernel = _per_axis(kernel, n, 1, "kernel_shape")
    strides = _per_axis(strides, n, 1, "strides")
    dilations = _per_axis(dilations, n, 1, "dilations")
    if auto_pad not in _AUTO_PADS:
        raise ValueError(f"auto_pad must be one of {_AUTO_PADS}, got {auto_pad!r}")
    ext = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-i // s) for i, s in zip(in_shape, strides, strict=True)]
        total = [max((o - 1) * s + e - i, 0)
                 for o, s, e, i in zip(out, strides, ext, in_shape, strict=True)]
        half = [t // 2 for t in total]
        if auto_pad == "SAME_UPPER":
            begin = half
        else:
            begin = [t - h for t, h in zip(total, half, strict=True)]
        end = [t - b for t, b in zip(total, begin, strict=True)]
    else:
        flat = [0] * (2 * n) if auto_pad == "VALID" else list(_per_axis(pads, 2 * n, 0, "pads"))
        begin, end = flat[:n], flat[n:]
        out = [_explicit_out(*args, ceil_mode)
               for args in zip(in_shape, begin, end, ext, strides, strict=True)]
    if any(p < 0 for p in (*begin, *end)):
        raise ValueError(f"pads must be non-negative, got {[*begin, *end]}")
    if any(o <= 0 for o in out):
        raise ValueError(
            f"the window (kernel {list(kernel)}, dilations {list(dilations)}) does not fit the "
            f"padded input {list(in_shape)}: output spatial shape would be {out}"
        )
    return Window(tuple(int(i) for i in in_shape), kernel, strides, dilations,
                  tuple(begin), tuple(end), tuple(out))


def pad_for_window(x: np.ndarray, win: Window, value: float | int = 0) -> np.ndarray:
    """Pad the spatial axes of ``x`` so every window position is in bounds.

    The end padding is grown when a ceil-mode window reaches past it (those cells hold
    ``value`` too) and trimmed when the last windows never reach it. Returns ``x`` itself
    when nothing needs padding.
    """
    need = [(o - 1) * s + e
            for o, s, e in zip(win.out_shape, win.strides, win.extents, strict=True)]
    ends = [n - b - i for n, b, i in zip(need, win.pads_begin, win.in_shape, strict=True)]
    return pad_spatial(x, win.pads_begin, ends, value)


def pad_spatial(x: np.ndarray, begin: Sequence[int], end: Sequence[int],
                value: float | int = 0) -> np.ndarray:
    """Pad (positive) or crop (negative) the trailing len(begin) axes of ``x``."""
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
