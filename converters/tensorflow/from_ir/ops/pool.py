"""Pooling emitters: AveragePool, MaxPool, LpPool, the global pools and MaxUnpool.

Windows follow the ONNX rules of :mod:`ir.window_math` (via :func:`conv.resolve_pads`);
TensorFlow's pools are channels-last only, so each op moves the channel axis last, pools
an explicitly padded input with ``VALID`` padding and moves it back."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.layout import (
    pad_axes,
    to_channels_first,
    to_channels_last,
)
from tensorbridge.converters.tensorflow.from_ir.ops.conv import (
    LAYER,
    Pads,
    per_axis,
    resolve_pads,
    spatial_sizes,
)
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError

# ---------------------------------------------------------------------------- pooling


def _lowest(dtype: Any) -> Any:
    """The padding value a max never picks."""
    return float("-inf") if dtype.is_floating else dtype.min


def _window_reduce(x: Any, kind: str, kernel: list[int], strides: list[int],
                   dilations: list[int], padding: str) -> Any:
    """MAX / AVG over every window of channels-last ``x``."""
    if max(dilations) == 1 and all(s <= k for s, k in zip(strides, kernel)):
        return tf.nn.pool(x, kernel, kind, strides=strides, padding=padding)
    # TF pools dilate only with stride 1 and refuse strides beyond the window: pool every
    # position, then keep every stride-th
    y = tf.nn.pool(x, kernel, kind, strides=[1] * len(kernel), padding=padding,
                   dilations=dilations)
    return y[(slice(None), *(slice(None, None, s) for s in strides), slice(None))]


def _pool(op: str, X: Any, kind: str, kernel_shape: Sequence[int] | None,
          strides: Sequence[int] | None, dilations: Sequence[int] | None,
          pads: Sequence[int] | None, auto_pad: str, ceil_mode: int = 0,
          count_include_pad: int = 0) -> Any:
    """MAX, AVG or SUM over each window. AVG divides by the cells each window covers: the
    input, plus the named pads with count_include_pad, never ceil_mode's extra cells."""
    rank = X.shape.rank
    nsp = rank - 2
    kernel = [int(k) for k in kernel_shape or ()]
    st, dl = per_axis(strides, nsp), per_axis(dilations, nsp)
    p = resolve_pads(op, spatial_sizes(X), kernel, st, dl, pads, auto_pad, ceil_mode)
    # TF's SAME pools match SAME_UPPER only without stride tricks, and average over the
    # real cells only
    tf_differs = max(st) > 1 and (max(dl) > 1 or any(s > k for s, k in zip(st, kernel)))
    if p.same and (tf_differs or kind == "SUM" or (kind == "AVG" and count_include_pad)):
        raise UnsupportedOpError(LAYER, op, hint="this SAME_UPPER window needs static spatial "
                                 "sizes; give the model static input shapes")
    padding = "SAME" if p.same else "VALID"
    x = to_channels_last(X, rank)
    if kind == "MAX":
        xp = pad_axes(x, 1, p.begin, p.total_end, _lowest(x.dtype))
        return to_channels_first(_window_reduce(xp, kind, kernel, st, dl, padding), rank)
    y = _window_reduce(pad_axes(x, 1, p.begin, p.total_end), "AVG", kernel, st, dl, padding)
    if kind == "SUM":
        return to_channels_first(y * tf.cast(math.prod(kernel), y.dtype), rank)
    counted = p.end if count_include_pad else (0,) * nsp
    if (any(p.begin) and not count_include_pad) or p.total_end != counted:
        # the share of each window that counts: pool a mask of the counted cells
        ones = tf.ones_like(x[:1, ..., :1])
        if count_include_pad:
            ones = pad_axes(ones, 1, p.begin, p.end, 1)
            mask = pad_axes(ones, 1, [0] * nsp, p.extra)
        else:
            mask = pad_axes(ones, 1, p.begin, p.total_end)
        y = y / _window_reduce(mask, "AVG", kernel, st, dl, padding)
    return to_channels_first(y, rank)


@emits("AveragePool", since=1)
def average_pool(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                 count_include_pad: int = 0, dilations: tuple[int, ...] | None = None,
                 kernel_shape: tuple[int, ...] | None = None,
                 pads: tuple[int, ...] | None = None,
                 strides: tuple[int, ...] | None = None) -> Any:
    """AveragePool-1/7/10/11/19/22: mean over each window; each version adds with a default
    that keeps the earlier meaning: count_include_pad (7, padding excluded by default),
    ceil_mode (10), dilations (19)."""
    return _pool("AveragePool", X, "AVG", kernel_shape, strides, dilations, pads, auto_pad,
                 ceil_mode, count_include_pad)


def _max_pool_indices(X: Any, kernel: list[int], strides: list[int], dilations: list[int],
                      p: Pads, storage_order: int) -> tuple[Any, Any]:
    """Max and flat argmax (into X, batch and channel included): the windows' taps are
    stacked on a last axis, so argmax's first maximum is the first in row-major order."""
    nsp = len(kernel)
    in_shape = [int(s) for s in X.shape[2:]]
    xp = pad_axes(X, 2, p.begin, p.total_end, _lowest(X.dtype))
    out = p.out
    taps = list(itertools.product(*(range(k) for k in kernel)))
    views = [xp[(slice(None), slice(None), *(slice(t * d, t * d + (o - 1) * s + 1, s)
                                             for t, d, o, s in zip(tap, dilations, out, strides)))]
             for tap in taps]
    stacked = tf.stack(views, axis=-1)
    best = tf.argmax(stacked, axis=-1, output_type=tf.int64)
    dims = in_shape if storage_order == 0 else in_shape[::-1]
    steps = [int(v) for v in np.cumprod((1, *dims[:0:-1]))[::-1]]
    steps = steps if storage_order == 0 else steps[::-1]
    shape = tf.shape(X, out_type=tf.int64)
    flat = tf.reshape(tf.range(shape[0] * shape[1]) * math.prod(in_shape),
                      tf.concat([shape[:2], [1] * nsp], 0))
    for a in range(nsp):
        tap_pos = tf.constant([t[a] * dilations[a] for t in taps], tf.int64)
        start = np.arange(out[a], dtype=np.int64) * strides[a] - p.begin[a]
        start = start.reshape([-1 if i == a else 1 for i in range(nsp)])
        flat = flat + (tf.gather(tap_pos, best) + start) * steps[a]
    return tf.reduce_max(stacked, axis=-1), flat


def _max_pool_outputs(X: Any, kernel_shape: Sequence[int] | None, strides: Sequence[int] | None,
                      dilations: Sequence[int] | None, pads: Sequence[int] | None,
                      auto_pad: str, ceil_mode: int, storage_order: int,
                      ctx: EmitContext | None) -> Any:
    if ctx is None or ctx.n_outputs < 2:
        return _pool("MaxPool", X, "MAX", kernel_shape, strides, dilations, pads, auto_pad,
                     ceil_mode)
    nsp = X.shape.rank - 2
    if any(s is None for s in X.shape[1:]):
        raise UnsupportedOpError(LAYER, "MaxPool", hint="the Indices output needs static "
                                 "channel and spatial sizes")
    kernel = [int(k) for k in kernel_shape or ()]
    st, dl = per_axis(strides, nsp), per_axis(dilations, nsp)
    p = resolve_pads("MaxPool", spatial_sizes(X), kernel, st, dl, pads, auto_pad, ceil_mode)
    return _max_pool_indices(X, kernel, st, dl, p, storage_order)


@emits("MaxPool", since=1)
def max_pool(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
             dilations: tuple[int, ...] | None = None,
             kernel_shape: tuple[int, ...] | None = None,
             pads: tuple[int, ...] | None = None, storage_order: int = 0,
             strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """MaxPool-1/8/10/11/12/22: max over each window (padding never wins); each version adds
    with a default that keeps the earlier meaning: the Indices output and storage_order (8),
    ceil_mode and dilations (10)."""
    return _max_pool_outputs(X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode,
                             storage_order, ctx)


def _lp_pool(X: Any, kernel_shape: Sequence[int] | None, strides: Sequence[int] | None,
             dilations: Sequence[int] | None, pads: Sequence[int] | None, auto_pad: str,
             ceil_mode: int, p: float) -> Any:
    """(sum |x|^p)^(1/p) over each window (padding adds zeros)."""
    x = tf.square(X) if p == 2 else tf.pow(tf.abs(X), tf.cast(p, X.dtype))
    total = _pool("LpPool", x, "SUM", kernel_shape, strides, dilations, pads, auto_pad,
                  ceil_mode)
    return tf.sqrt(total) if p == 2 else tf.pow(total, tf.cast(1.0 / p, X.dtype))


@emits("LpPool", since=1)
def lp_pool(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
            dilations: tuple[int, ...] | None = None,
            kernel_shape: tuple[int, ...] | None = None, p: float = 2,
            pads: tuple[int, ...] | None = None,
            strides: tuple[int, ...] | None = None) -> Any:
    """LpPool-1/2/11/18/22: (sum |x|^p)^(1/p) over each window; p is a float in 1, an int
    from 2; ceil_mode and dilations (18) default to the earlier meaning."""
    return _lp_pool(X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, p)


def _wide(x: Any) -> Any:
    """float16/bfloat16 accumulate badly in TF reductions: reduce in float32."""
    return tf.cast(x, tf.float32) if x.dtype in (tf.float16, tf.bfloat16) else x


@emits("GlobalAveragePool", since=1)
def global_average_pool(X: Any) -> Any:
    """GlobalAveragePool-1/22: mean over all spatial axes, kept as size-1 axes."""
    axes = list(range(2, X.shape.rank))
    return tf.cast(tf.reduce_mean(_wide(X), axis=axes, keepdims=True), X.dtype)


@emits("GlobalMaxPool", since=1)
def global_max_pool(X: Any) -> Any:
    """GlobalMaxPool-1/22: max over all spatial axes, kept as size-1 axes."""
    return tf.reduce_max(X, axis=list(range(2, X.shape.rank)), keepdims=True)


def _global_lp(X: Any, p: float) -> Any:
    x = _wide(X)
    s = tf.reduce_sum(tf.pow(tf.abs(x), tf.cast(p, x.dtype)), axis=list(range(2, X.shape.rank)),
                      keepdims=True)
    return tf.cast(tf.pow(s, tf.cast(1.0 / p, x.dtype)), X.dtype)


@emits("GlobalLpPool", since=1)
def global_lp_pool(X: Any, *, p: float = 2) -> Any:
    """GlobalLpPool-1/2/22: p a float in 1, an int from 2."""
    return _global_lp(X, p)


# ------------------------------------------------------------- spatial scatter / sampling
# Their shape inputs (output_shape, image_shape, block_shape, size) may be run-time values,
# so sizes are computed with tensor ops; only the number of spatial axes must be static.


def _fit_end(x: Any, first: int, target: Any) -> Any:
    """Pad (with zeros) or crop the axes first.. of ``x`` at their end to ``target``."""
    shape = tf.shape(x)
    nsp = x.shape.rank - first
    keep = tf.concat([shape[:first], tf.minimum(shape[first:], target)], 0)
    x = tf.slice(x, tf.zeros_like(keep), keep)
    grow = tf.maximum(target - keep[first:], 0)
    pads = tf.concat([tf.zeros([first, 2], tf.int32),
                      tf.stack([tf.zeros([nsp], tf.int32), grow], axis=1)], 0)
    return tf.pad(x, pads)


@emits("MaxUnpool", since=9)
def max_unpool(X: Any, I: Any, output_shape: Any = None, *,  # noqa: E741  (the spec's name)
               kernel_shape: Sequence[int] | None = None, pads: Sequence[int] | None = None,
               strides: Sequence[int] | None = None) -> Any:
    """MaxUnpool-9/11/22: scatter X to the flat positions I (MaxPool's Indices), zeros
    elsewhere; an explicit output_shape adds (or removes) cells at each spatial axis' end."""
    nsp = X.shape.rank - 2
    if not kernel_shape or len(kernel_shape) != nsp:
        raise ValueError(f"MaxUnpool: kernel_shape {kernel_shape} must have {nsp} values")
    st = list(strides or [1] * nsp)
    pd = list(pads or [0] * (2 * nsp))
    xs = tf.shape(X)
    spatial = [(xs[2 + a] - 1) * st[a] + kernel_shape[a] - pd[a] - pd[a + nsp] for a in range(nsp)]
    shape = tf.stack([xs[0], xs[1], *spatial])
    flat = tf.reshape(tf.cast(I, tf.int64), [-1, 1])
    out = tf.scatter_nd(flat, tf.reshape(X, [-1]), tf.cast(tf.reduce_prod(shape)[None], tf.int64))
    out = tf.reshape(out, shape)
    if output_shape is None:
        return out
    return _fit_end(out, 2, tf.reshape(tf.cast(output_shape, tf.int32), [-1])[2:])
