"""Convolution emitters (Conv, ConvTranspose, DeformConv, Col2Im) and the TF form
(:class:`Pads`, :func:`resolve_pads`) of the ONNX window rules of :mod:`ir.window_math`
that the pooling emitters share.

TensorFlow's CPU conv kernels are channels-last only, so Conv/ConvTranspose move the
channel axis last (:func:`layout.to_channels_last`), run the TF op with ``VALID`` padding
on an explicitly padded input, and move it back; a later layout pass cancels adjacent
transpose pairs. Padding is resolved statically from the IR shapes; when a spatial size is
dynamic only the paddings that do not depend on it are supported (explicit pads, VALID, and
SAME_UPPER, which is TF's own "SAME"). Col2Im and DeformConv compute their geometry with
tensor ops (their shape inputs may be run-time values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.layout import (
    pad_axes,
    to_channels_first,
    to_channels_last,
)
from tensorbridge.converters.tensorflow.from_ir.ops.cast import work_precision
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.window_math import conv_transpose_window, resolve_window, window_attrs

LAYER = "TensorFlow emitter"


@dataclass(frozen=True)
class Pads:
    """A resolved window padding: ``begin``/``end`` are the pads the op names (they count
    for count_include_pad), ``extra`` is what ceil_mode adds (or crops) beyond ``end``,
    ``out`` the output spatial sizes (empty when a size is dynamic); ``same`` leaves
    SAME_UPPER padding of a dynamic size to TF."""

    begin: tuple[int, ...]
    end: tuple[int, ...]
    extra: tuple[int, ...]
    same: bool = False
    out: tuple[int, ...] = ()

    @property
    def total_end(self) -> tuple[int, ...]:
        return tuple(e + x for e, x in zip(self.end, self.extra))


def per_axis(values: Sequence[int] | None, n: int, default: int = 1) -> list[int]:
    return [int(v) for v in values] if values else [default] * n


def resolve_pads(op: str, sizes: Sequence[int | None], kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int], pads: Sequence[int] | None, auto_pad: str,
                 ceil_mode: int = 0) -> Pads:
    """The ONNX window rules of :mod:`ir.window_math`: static sizes get the shared
    resolution; a dynamic size only the paddings that do not depend on it."""
    try:
        attrs = window_attrs(op, len(kernel), kernel, strides=strides, dilations=dilations,
                             pads=pads, auto_pad=auto_pad, ceil_mode=ceil_mode)
        if all(s is not None for s in sizes):
            win = resolve_window(attrs, [int(s) for s in sizes])  # type: ignore[arg-type]
            return Pads(win.pads_begin, win.pads_end, win.extra_end, out=win.out_shape)
    except ValueError as e:
        raise UnsupportedOpError(LAYER, op, hint=str(e)) from e
    n = len(kernel)
    if auto_pad == "SAME_UPPER" and not ceil_mode:
        return Pads((0,) * n, (0,) * n, (0,) * n, same=True)
    if not attrs.same and not ceil_mode:
        return Pads(attrs.pads_begin, attrs.pads_end, (0,) * n)
    raise UnsupportedOpError(LAYER, op, hint=f"auto_pad={auto_pad} / ceil_mode={ceil_mode} "
                             "need static spatial sizes; give the model static input shapes")


def spatial_sizes(x: Any) -> list[int | None]:
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
    st, dl = per_axis(strides, nsp), per_axis(dilations, nsp)
    p = resolve_pads("Conv", list(x.shape[1:-1]), list(w.shape[:nsp]), st, dl, pads, auto_pad)
    y = conv_hwio(pad_axes(x, 1, p.begin, p.total_end), w, group, st, dl, "SAME" if p.same else "VALID")
    return tf.nn.bias_add(y, B) if B is not None else y


def depthwise_channels_last(x: Any, w: Any, B: Any, auto_pad: str, dilations: Sequence[int] | None,
                            pads: Sequence[int] | None, strides: Sequence[int] | None) -> Any:
    """Depthwise conv of channels-last ``x`` (N, H, W, C) with ``w`` (kh, kw, C, multiplier)."""
    st, dl = per_axis(strides, 2), per_axis(dilations, 2)
    p = resolve_pads("Conv", list(x.shape[1:-1]), list(w.shape[:2]), st, dl, pads, auto_pad)
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
    st, dl = per_axis(strides, nsp), per_axis(dilations, nsp)
    p = resolve_pads("Conv", spatial_sizes(X), kernel, st, dl, pads, auto_pad)
    x = pad_axes(to_channels_last(X, rank), 1, p.begin, p.total_end)
    y = _conv_cl(x, W, group, st, dl, "SAME" if p.same else "VALID")
    if B is not None:
        y = tf.nn.bias_add(y, B)
    return to_channels_first(y, rank)


def _transpose_crops(sizes: Sequence[Any], kernel: Sequence[int], strides: Sequence[int] | None,
                     dilations: Sequence[int] | None, pads: Sequence[int] | None, auto_pad: str,
                     output_padding: Sequence[int] | None,
                     output_shape: Sequence[int] | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(crop at the start, crop at the end) of the full transposed output, output_padding
    cells included (negative: pad zeros), by :func:`ir.window_math.conv_transpose_window`;
    a dynamic size allows only the explicit pads, which do not depend on it."""
    op = "ConvTranspose"
    try:
        if all(isinstance(i, int) for i in sizes):
            geo = conv_transpose_window(op, sizes, kernel, strides=strides, dilations=dilations,
                                        pads=pads, auto_pad=auto_pad,
                                        output_padding=output_padding, output_shape=output_shape)
            return geo.crop_begin, geo.crop_end
        attrs = window_attrs(op, len(kernel), kernel, strides=strides, dilations=dilations,
                             pads=pads, auto_pad=auto_pad)
    except ValueError as e:
        raise UnsupportedOpError(LAYER, op, hint=str(e)) from e
    if output_shape or attrs.same:
        raise UnsupportedOpError(LAYER, op, hint="output_shape / SAME padding need static "
                                 "spatial sizes; give the model static input shapes")
    return attrs.pads_begin, attrs.pads_end


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
    st, dl = per_axis(strides, nsp), per_axis(dilations, nsp)
    op_ = per_axis(output_padding, nsp, 0)
    x = to_channels_last(X, rank)
    dyn = tf.shape(x)
    sizes = [s if s is not None else dyn[1 + a] for a, s in enumerate(X.shape[2:])]
    valid = [(i - 1) * s + (k - 1) * d + 1 for i, s, k, d in zip(sizes, st, kernel, dl)]
    begin, end = _transpose_crops(sizes, kernel, strides, dilations, pads, auto_pad,
                                  output_padding, output_shape)
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


@emits("Col2Im", since=18)
def col2im(input: Any, image_shape: Any, block_shape: Any, *,
           dilations: Sequence[int] | None = None, pads: Sequence[int] | None = None,
           strides: Sequence[int] | None = None) -> Any:
    """Col2Im-18: sum (N, C * prod(block), L) column blocks back into (N, C, *image_shape);
    every (tap, block position) cell is added to its image cell with one segment sum."""
    nsp = image_shape.shape[0]
    if nsp is None:
        raise UnsupportedOpError(LAYER, "Col2Im", hint="image_shape needs a static length")
    image = tf.reshape(tf.cast(image_shape, tf.int32), [nsp])
    block = tf.reshape(tf.cast(block_shape, tf.int32), [nsp])
    st, dl = list(strides or [1] * nsp), list(dilations or [1] * nsp)
    pb, pe = (list(pads[:nsp]), list(pads[nsp:])) if pads else ([0] * nsp, [0] * nsp)
    ext = (block - 1) * dl + 1
    grid = (image + tf.constant(pb) + tf.constant(pe) - ext) // tf.constant(st) + 1
    n, cb, length = tf.unstack(tf.shape(input))
    taps = tf.reduce_prod(block)
    tap = tf.unravel_index(tf.range(taps), block)  # [nsp, K]
    pos = tf.unravel_index(tf.range(length), grid)  # [nsp, L]
    coord = (pos[:, None, :] * tf.constant(st)[:, None, None] - tf.constant(pb)[:, None, None]
             + tap[:, :, None] * tf.constant(dl)[:, None, None])  # [nsp, K, L]
    inside = tf.reduce_all((coord >= 0) & (coord < image[:, None, None]), axis=0)
    strides_flat = tf.math.cumprod(image, exclusive=True, reverse=True)
    flat = tf.reduce_sum(coord * strides_flat[:, None, None], axis=0)
    total = tf.reduce_prod(image)
    seg = tf.reshape(tf.where(inside, flat, total), [-1])  # outside cells go to a dump slot
    cols = tf.reshape(input, tf.stack([n * (cb // taps), taps * length]))
    img = tf.math.unsorted_segment_sum(tf.transpose(cols), seg, total + 1)[:total]
    return tf.reshape(tf.transpose(img), tf.concat([tf.stack([n, cb // taps]), image], 0))


def _deform_samples(x: Any, offset: Any, mask: Any, kernel: list[int], st: list[int],
                    dl: list[int], pb: list[int], og: int) -> Any:
    """Bilinear samples (N, C, taps, oh*ow) of x (N, C, H, W) at each tap's grid position
    plus its learned offset; out-of-image corners read 0."""
    n, c, h, w = tf.unstack(tf.shape(x))
    oh, ow = tf.shape(offset)[2], tf.shape(offset)[3]
    taps = kernel[0] * kernel[1]
    off = tf.reshape(offset, tf.stack([n, og, taps, 2, oh, ow]))
    ty = tf.constant([t // kernel[1] for t in range(taps)])
    tx = tf.constant([t % kernel[1] for t in range(taps)])
    base_y = (tf.range(oh) * st[0] - pb[0])[None, :, None] + (ty * dl[0])[:, None, None]
    base_x = (tf.range(ow) * st[1] - pb[1])[None, None, :] + (tx * dl[1])[:, None, None]
    py = off[:, :, :, 0] + tf.cast(base_y, x.dtype)  # (N, og, taps, oh, ow)
    px = off[:, :, :, 1] + tf.cast(base_x, x.dtype)
    weight = tf.ones_like(py) if mask is None else tf.reshape(tf.cast(mask, x.dtype), tf.shape(py))
    xf = tf.reshape(x, tf.stack([n, og, c // og, h * w]))
    cols = 0.0
    for dy in (0, 1):
        for dx in (0, 1):
            iy, ix = tf.floor(py) + dy, tf.floor(px) + dx
            inside = (iy >= 0) & (iy < tf.cast(h, x.dtype)) & (ix >= 0) & (ix < tf.cast(w, x.dtype))
            wt = weight * (1 - tf.abs(py - iy)) * (1 - tf.abs(px - ix)) * tf.cast(inside, x.dtype)
            lin = (tf.clip_by_value(tf.cast(iy, tf.int32), 0, h - 1) * w
                   + tf.clip_by_value(tf.cast(ix, tf.int32), 0, w - 1))
            vals = tf.gather(xf, tf.reshape(lin, tf.stack([n, og, -1])), axis=3, batch_dims=2)
            cols = cols + vals * tf.reshape(wt, tf.stack([n, og, 1, -1]))
    return tf.reshape(cols, tf.stack([n, c, taps, oh * ow]))


@emits("DeformConv", since=19)
def deform_conv(X: Any, W: Any, offset: Any, B: Any = None, mask: Any = None, *,
                dilations: Sequence[int] | None = None, group: int = 1,
                kernel_shape: Sequence[int] | None = None, offset_group: int = 1,
                pads: Sequence[int] | None = None, strides: Sequence[int] | None = None) -> Any:
    """DeformConv-19/22 (2-D): conv whose taps sample X bilinearly at learned offsets."""
    if X.shape.rank != 4:
        raise UnsupportedOpError(LAYER, "DeformConv", hint="only 2-D DeformConv (N, C, H, W) "
                                 "is emitted for TensorFlow")
    kernel = list(W.shape[2:]) if W.shape.rank == 4 and None not in W.shape[2:] else list(kernel_shape or ())
    st, dl = list(strides or [1, 1]), list(dilations or [1, 1])
    pb = list(pads[:2]) if pads else [0, 0]
    x = work_precision(X)
    cols = _deform_samples(x, tf.cast(offset, x.dtype), mask, kernel, st, dl, pb, offset_group)
    n, c = tf.shape(x)[0], tf.shape(x)[1]
    m = tf.shape(W)[0]
    wg = tf.reshape(tf.cast(W, x.dtype), tf.stack([group, m // group, -1]))
    cg = tf.reshape(cols, tf.stack([n, group, (c // group) * kernel[0] * kernel[1], -1]))
    y = tf.einsum("gmk,ngkp->ngmp", wg, cg)
    y = tf.reshape(y, tf.stack([n, m, tf.shape(offset)[2], tf.shape(offset)[3]]))
    if B is not None:
        y = y + tf.reshape(tf.cast(B, x.dtype), [-1, 1, 1])
    return tf.cast(y, X.dtype)
