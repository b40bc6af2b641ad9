"""Convolution and pooling emitters (Conv, ConvTranspose, AveragePool, MaxPool, LpPool and
the global pools).

TensorFlow's CPU conv/pool kernels are channels-last only, so every op here moves the
channel axis last (:func:`to_channels_last`), runs the TF op with ``VALID`` padding on an
explicitly padded input, and moves it back (:func:`to_channels_first`); a later layout pass
cancels adjacent transpose pairs. Padding is resolved statically from the IR shapes; when a
spatial size is dynamic only the paddings that do not depend on it are supported (explicit
pads, VALID, and SAME_UPPER, which is TF's own "SAME")."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "TensorFlow emitter"


def to_channels_last(x: Any, rank: int) -> Any:
    """NC[spatial] -> N[spatial]C."""
    return tf.transpose(x, [0, *range(2, rank), 1])


def to_channels_first(x: Any, rank: int) -> Any:
    """N[spatial]C -> NC[spatial]."""
    return tf.transpose(x, [0, rank - 1, *range(1, rank - 1)])


def pad_axes(x: Any, first: int, begin: Sequence[int], end: Sequence[int],
             value: Any = 0) -> Any:
    """Pad (positive) or crop (negative) the axes first, first+1, ... of ``x``."""
    if not any(begin) and not any(end):
        return x
    lead = (slice(None),) * first
    crop = tuple(slice(max(-b, 0), e if e < 0 else None) for b, e in zip(begin, end))
    if any(b < 0 for b in begin) or any(e < 0 for e in end):
        x = x[(*lead, *crop)]
    if any(b > 0 for b in begin) or any(e > 0 for e in end):
        rank = x.shape.rank
        rest = rank - first - len(begin)
        paddings = [[0, 0]] * first + [[max(b, 0), max(e, 0)] for b, e in zip(begin, end)]
        x = tf.pad(x, paddings + [[0, 0]] * rest, constant_values=tf.cast(value, x.dtype))
    return x


@dataclass(frozen=True)
class _Pads:
    """A resolved window padding: ``begin``/``end`` are the pads the op names (they count
    for count_include_pad), ``extra`` is what ceil_mode adds (or crops) beyond ``end``;
    ``same`` leaves SAME_UPPER padding of a dynamic size to TF."""

    begin: tuple[int, ...]
    end: tuple[int, ...]
    extra: tuple[int, ...]
    same: bool = False

    @property
    def total_end(self) -> tuple[int, ...]:
        return tuple(e + x for e, x in zip(self.end, self.extra))


def _per_axis(values: Sequence[int] | None, n: int, default: int = 1) -> list[int]:
    return [int(v) for v in values] if values else [default] * n


def _resolve(op: str, sizes: Sequence[int | None], kernel: Sequence[int], strides: Sequence[int],
             dilations: Sequence[int], pads: Sequence[int] | None, auto_pad: str,
             ceil_mode: int = 0) -> _Pads:
    """The ONNX window rules: SAME_* gives out = ceil(in / stride); explicit pads use floor
    (or ceil, dropping a last window that would start in the end padding)."""
    n = len(kernel)
    ext = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    flat = [0] * (2 * n) if auto_pad == "VALID" else _per_axis(pads, 2 * n, 0)
    if any(s is None for s in sizes):
        if auto_pad == "SAME_UPPER" and not ceil_mode:
            return _Pads((0,) * n, (0,) * n, (0,) * n, same=True)
        if auto_pad in ("NOTSET", "VALID") and not ceil_mode:
            return _Pads(tuple(flat[:n]), tuple(flat[n:]), (0,) * n)
        raise UnsupportedOpError(LAYER, op, hint=f"auto_pad={auto_pad} / ceil_mode={ceil_mode} "
                                 "need static spatial sizes; give the model static input shapes")
    begin, end, out = [], [], []
    for a in range(n):
        size, s = int(sizes[a]), strides[a]  # type: ignore[arg-type]
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-size // s)
            total = max((o - 1) * s + ext[a] - size, 0)
            b = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
            begin.append(b)
            end.append(total - b)
        else:
            b, e = flat[a], flat[a + n]
            span = size + b + e - ext[a]
            o = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (o - 1) * s >= size + b:
                o -= 1
            begin.append(b)
            end.append(e)
        out.append(o)
    extra = [(o - 1) * s + x - (b + size + e) for o, s, x, b, size, e
             in zip(out, strides, ext, begin, sizes, end)]  # type: ignore[operator]
    return _Pads(tuple(begin), tuple(end), tuple(extra))


def _spatial(x: Any) -> list[int | None]:
    return list(x.shape[2:])


# ------------------------------------------------------------------------------- conv


def _conv_cl(x: Any, W: Any, group: int, strides: list[int], dilations: list[int],
             padding: str) -> Any:
    """Cross-correlate channels-last x with ONNX weights W (M, C/group, k...)."""
    nsp = len(strides)
    return conv_hwio(x, tf.transpose(W, [*range(2, nsp + 2), 1, 0]), group, strides, dilations, padding)


def conv_hwio(x: Any, w: Any, group: int, strides: list[int], dilations: list[int],
              padding: str) -> Any:
    """Cross-correlate channels-last x with TF-layout weights w (k..., C/group, M)."""
    nsp = len(strides)
    c_in = w.shape[-2] * group
    if (nsp == 2 and group > 1 and group == c_in and w.shape[-2] == 1
            and (max(strides) == 1 or max(dilations) == 1)):
        # depthwise: output channel m reads input channel m // multiplier, as in TF
        w = tf.reshape(w, [*w.shape[:2], c_in, w.shape[-1] // c_in])
        return tf.nn.depthwise_conv2d(x, w, [1, *strides, 1], padding, dilations=dilations)
    # tf.nn.convolution refuses strides with dilations; the per-rank ops accept both
    if nsp == 1:
        return tf.nn.conv1d(x, w, strides, padding, dilations=dilations)
    if nsp == 2:  # TF groups conv1d/conv2d itself when C is a multiple of I
        return tf.nn.conv2d(x, w, strides, padding, dilations=dilations)
    st, dl = [1, *strides, 1], [1, *dilations, 1]
    if group == 1:
        return tf.nn.conv3d(x, w, st, padding, dilations=dl)
    xs = tf.split(x, group, axis=-1)
    ws = tf.split(w, group, axis=-1)
    return tf.concat([tf.nn.conv3d(a, b, st, padding, dilations=dl) for a, b in zip(xs, ws)],
                     axis=-1)


def conv_channels_last(x: Any, w: Any, B: Any, auto_pad: str, dilations: Sequence[int] | None,
                       group: int, pads: Sequence[int] | None, strides: Sequence[int] | None) -> Any:
    """Conv of channels-last ``x`` with TF-layout ``w`` (k..., C/group, M), channels-last out."""
    nsp = x.shape.rank - 2
    st, dl = _per_axis(strides, nsp), _per_axis(dilations, nsp)
    p = _resolve("Conv", list(x.shape[1:-1]), list(w.shape[:nsp]), st, dl, pads, auto_pad)
    y = conv_hwio(pad_axes(x, 1, p.begin, p.total_end), w, group, st, dl, "SAME" if p.same else "VALID")
    return tf.nn.bias_add(y, B) if B is not None else y


def depthwise_channels_last(x: Any, w: Any, B: Any, auto_pad: str, dilations: Sequence[int] | None,
                            pads: Sequence[int] | None, strides: Sequence[int] | None) -> Any:
    """Depthwise conv of channels-last ``x`` (N, H, W, C) with ``w`` (kh, kw, C, multiplier)."""
    st, dl = _per_axis(strides, 2), _per_axis(dilations, 2)
    p = _resolve("Conv", list(x.shape[1:-1]), list(w.shape[:2]), st, dl, pads, auto_pad)
    y = tf.nn.depthwise_conv2d(pad_axes(x, 1, p.begin, p.total_end), w, [1, *st, 1],
                               "SAME" if p.same else "VALID", dilations=dl)
    return tf.nn.bias_add(y, B) if B is not None else y


@emits("Conv", since=1)
def conv(X: Any, W: Any, B: Any = None, *, auto_pad: str = "NOTSET",
         dilations: tuple[int, ...] | None = None, group: int = 1,
         kernel_shape: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
         strides: tuple[int, ...] | None = None) -> Any:
    """Conv-1/11/22: Y = conv(X, W) + B."""
    rank = X.shape.rank
    nsp = rank - 2
    kernel = list(W.shape[2:]) if W.shape.rank else list(kernel_shape or ())
    st, dl = _per_axis(strides, nsp), _per_axis(dilations, nsp)
    p = _resolve("Conv", _spatial(X), kernel, st, dl, pads, auto_pad)
    x = pad_axes(to_channels_last(X, rank), 1, p.begin, p.total_end)
    y = _conv_cl(x, W, group, st, dl, "SAME" if p.same else "VALID")
    if B is not None:
        y = tf.nn.bias_add(y, B)
    return to_channels_first(y, rank)


def _transpose_crop(op: str, full: list[Any], auto_pad: str, pads: Sequence[int] | None,
                    output_shape: Sequence[int] | None) -> tuple[list[int], list[int]]:
    """(crop at the start, crop at the end) of the full transposed output (negative: pad
    zeros); ``full`` already counts the output_padding cells."""
    n = len(full)
    if output_shape:
        if any(not isinstance(f, int) for f in full):
            raise UnsupportedOpError(LAYER, op, hint="output_shape / SAME padding need static "
                                     "spatial sizes; give the model static input shapes")
        total = [f - int(o) for f, o in zip(full, list(output_shape)[-n:])]
        # the spec's split, meaningful for negative totals too: SAME_UPPER puts the odd
        # cell at the end, everything else at the beginning
        begin = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
        return begin, [t - b for t, b in zip(total, begin)]
    if auto_pad == "VALID" or not pads:
        return [0] * n, [0] * n
    return list(pads[:n]), list(pads[n:])


@emits("ConvTranspose", since=1)
def conv_transpose(X: Any, W: Any, B: Any = None, *, auto_pad: str = "NOTSET",
                   dilations: tuple[int, ...] | None = None, group: int = 1,
                   kernel_shape: tuple[int, ...] | None = None,
                   output_padding: tuple[int, ...] | None = None,
                   output_shape: tuple[int, ...] | None = None,
                   pads: tuple[int, ...] | None = None,
                   strides: tuple[int, ...] | None = None) -> Any:
    """ConvTranspose-1/11/22: the gradient of Conv w.r.t. its input, plus B (opset 11's
    SAME_UPPER split for every version, as runtimes do)."""
    rank = X.shape.rank
    nsp = rank - 2
    kernel = list(W.shape[2:])
    st, dl = _per_axis(strides, nsp), _per_axis(dilations, nsp)
    op_ = _per_axis(output_padding, nsp, 0)
    x = to_channels_last(X, rank)
    dyn = tf.shape(x)
    sizes = [s if s is not None else dyn[1 + a] for a, s in enumerate(X.shape[2:])]
    valid = [(i - 1) * s + (k - 1) * d + 1 for i, s, k, d in zip(sizes, st, kernel, dl)]
    full = [v + p for v, p in zip(valid, op_)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and not output_shape:
        output_shape = tuple(i * s for i, s in zip(sizes, st))
    begin, end = _transpose_crop("ConvTranspose", full, auto_pad, pads, output_shape)
    m_g = W.shape[1]
    out_shape = tf.stack([dyn[0], *valid, m_g])
    w = tf.transpose(W, [*range(2, rank), 1, 0])  # (C, M/g, k...) -> (k..., M/g, C)
    xs = tf.split(x, group, axis=-1) if group > 1 else [x]
    ws = tf.split(w, group, axis=-1) if group > 1 else [w]
    ys = [tf.nn.conv_transpose(a, b, out_shape, st, "VALID", dilations=dl) for a, b in zip(xs, ws)]
    y = tf.concat(ys, axis=-1) if group > 1 else ys[0]
    y = tf.ensure_shape(y, [X.shape[0], *[v if isinstance(v, int) else None for v in valid],
                            m_g * group])
    # output_padding adds cells no input reaches (zeros) at the end; then the pads crop
    y = pad_axes(y, 1, [-b for b in begin], [p - e for p, e in zip(op_, end)])
    if B is not None:
        y = tf.nn.bias_add(y, B)
    return to_channels_first(y, rank)


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
    st, dl = _per_axis(strides, nsp), _per_axis(dilations, nsp)
    p = _resolve(op, _spatial(X), kernel, st, dl, pads, auto_pad, ceil_mode)
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
def average_pool_1(X: Any, *, auto_pad: str = "NOTSET",
                   kernel_shape: tuple[int, ...] | None = None,
                   pads: tuple[int, ...] | None = None,
                   strides: tuple[int, ...] | None = None) -> Any:
    """AveragePool-1: mean over each window, padding excluded from the count."""
    return _pool("AveragePool", X, "AVG", kernel_shape, strides, None, pads, auto_pad)


@emits("AveragePool", since=7)
def average_pool_7(X: Any, *, auto_pad: str = "NOTSET", count_include_pad: int = 0,
                   kernel_shape: tuple[int, ...] | None = None,
                   pads: tuple[int, ...] | None = None,
                   strides: tuple[int, ...] | None = None) -> Any:
    """AveragePool-7: adds count_include_pad."""
    return _pool("AveragePool", X, "AVG", kernel_shape, strides, None, pads, auto_pad,
                 0, count_include_pad)


@emits("AveragePool", since=10)
def average_pool_10(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                    count_include_pad: int = 0, kernel_shape: tuple[int, ...] | None = None,
                    pads: tuple[int, ...] | None = None,
                    strides: tuple[int, ...] | None = None) -> Any:
    """AveragePool-10/11: adds ceil_mode."""
    return _pool("AveragePool", X, "AVG", kernel_shape, strides, None, pads, auto_pad,
                 ceil_mode, count_include_pad)


@emits("AveragePool", since=19)
def average_pool_19(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                    count_include_pad: int = 0, dilations: tuple[int, ...] | None = None,
                    kernel_shape: tuple[int, ...] | None = None,
                    pads: tuple[int, ...] | None = None,
                    strides: tuple[int, ...] | None = None) -> Any:
    """AveragePool-19/22: adds dilations."""
    return _pool("AveragePool", X, "AVG", kernel_shape, strides, dilations, pads, auto_pad,
                 ceil_mode, count_include_pad)


@emits("MaxPool", since=1)
def max_pool_1(X: Any, *, auto_pad: str = "NOTSET", kernel_shape: tuple[int, ...] | None = None,
               pads: tuple[int, ...] | None = None,
               strides: tuple[int, ...] | None = None) -> Any:
    """MaxPool-1: max over each window (padding never wins)."""
    return _pool("MaxPool", X, "MAX", kernel_shape, strides, None, pads, auto_pad)


def _max_pool_indices(X: Any, kernel: list[int], strides: list[int], dilations: list[int],
                      p: _Pads, storage_order: int) -> tuple[Any, Any]:
    """Max and flat argmax (into X, batch and channel included): the windows' taps are
    stacked on a last axis, so argmax's first maximum is the first in row-major order."""
    nsp = len(kernel)
    in_shape = [int(s) for s in X.shape[2:]]
    xp = pad_axes(X, 2, p.begin, p.total_end, _lowest(X.dtype))
    out = [(-(-(int(n) - e) // s)) for n, e, s in zip(
        xp.shape[2:], [(k - 1) * d for k, d in zip(kernel, dilations)], strides)]
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
    st, dl = _per_axis(strides, nsp), _per_axis(dilations, nsp)
    p = _resolve("MaxPool", _spatial(X), kernel, st, dl, pads, auto_pad, ceil_mode)
    return _max_pool_indices(X, kernel, st, dl, p, storage_order)


@emits("MaxPool", since=8)
def max_pool_8(X: Any, *, auto_pad: str = "NOTSET", kernel_shape: tuple[int, ...] | None = None,
               pads: tuple[int, ...] | None = None, storage_order: int = 0,
               strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """MaxPool-8: adds the Indices output (flat argmax, row- or column-major)."""
    return _max_pool_outputs(X, kernel_shape, strides, None, pads, auto_pad, 0, storage_order,
                             ctx)


@emits("MaxPool", since=10)
def max_pool_10(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                dilations: tuple[int, ...] | None = None,
                kernel_shape: tuple[int, ...] | None = None,
                pads: tuple[int, ...] | None = None, storage_order: int = 0,
                strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """MaxPool-10/11/12/22: adds ceil_mode and dilations."""
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
def lp_pool_1(X: Any, *, auto_pad: str = "NOTSET", kernel_shape: tuple[int, ...] | None = None,
              p: float = 2.0, pads: tuple[int, ...] | None = None,
              strides: tuple[int, ...] | None = None) -> Any:
    """LpPool-1: p a float."""
    return _lp_pool(X, kernel_shape, strides, None, pads, auto_pad, 0, p)


@emits("LpPool", since=2)
def lp_pool_2(X: Any, *, auto_pad: str = "NOTSET", kernel_shape: tuple[int, ...] | None = None,
              p: int = 2, pads: tuple[int, ...] | None = None,
              strides: tuple[int, ...] | None = None) -> Any:
    """LpPool-2/11: p becomes an int."""
    return _lp_pool(X, kernel_shape, strides, None, pads, auto_pad, 0, p)


@emits("LpPool", since=18)
def lp_pool_18(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
               dilations: tuple[int, ...] | None = None,
               kernel_shape: tuple[int, ...] | None = None, p: int = 2,
               pads: tuple[int, ...] | None = None,
               strides: tuple[int, ...] | None = None) -> Any:
    """LpPool-18/22: adds ceil_mode and dilations."""
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
def global_lp_pool_1(X: Any, *, p: float = 2.0) -> Any:
    """GlobalLpPool-1: p a float."""
    return _global_lp(X, p)


@emits("GlobalLpPool", since=2)
def global_lp_pool_2(X: Any, *, p: int = 2) -> Any:
    """GlobalLpPool-2/22: p becomes an int."""
    return _global_lp(X, p)
