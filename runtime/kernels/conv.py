"""Kernels: convolutions (Conv, DeformConv, ConvTranspose, Col2Im).

Every convolution is im2col on a strided view of the padded input followed by one batched
GEMM per image (``np.matmul`` over the group axis goes to BLAS). 1x1 kernels skip im2col:
the input (strided view) already is the column matrix. ConvTranspose and Col2Im are the
mirror image: GEMM, then the columns are scattered back into the image with one strided
``+=`` per kernel tap (col2im).

Float convs take Winograd F(2x2, 3x3) where it measured faster (:func:`conv_float`: 3x3
stride-1 convs with enough channels and output tiles, ``winograd.py``; the weight transform
is made once at plan time by the fused conv path, see :func:`winograd_for`). Integer convs
(ConvInteger, QLinearConv) keep im2col + GEMM (:func:`conv_nd`), whose float64 sums are exact.

Depthwise convs (one input channel per group) take the GEMM path when the output is
large: a batched (C, mult, taps) @ (C, taps, pixels) matmul measured 1.6-2x faster than an
elementwise multiply-accumulate over the taps (MobileNet-sized layers, numpy 2.4 /
OpenBLAS), because the tap loop makes two passes over the output per tap. On small outputs
(at most :data:`DEPTHWISE_TAPS_MAX_PIXELS`, the 7x7 maps at the end of ShuffleNet and
MobileNet) the per-channel GEMM calls dominate instead, and a tap loop in channels-last
memory (:func:`_depthwise_taps`: every tap's inner loop runs over the channels, contiguous)
measured 1.3-2x faster; at 14x14 the two are even and above it the GEMM path wins.
With numba installed, depthwise 2-D convs run compiled loops instead where they measured
faster (``_compiled.py``: wide outputs, or many channels), one pass over the output.
"""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.window_math import conv_transpose_window, per_axis
from tensorbridge.runtime.kernels import _compiled
from tensorbridge.runtime.kernels._spatial import (
    Window,
    compute_dtype,
    im2col_view,
    make_window,
    pad_for_window,
    pad_spatial,
    prod,
    tap_view,
)
from tensorbridge.runtime.kernels.winograd import winograd_applies, winograd_conv, winograd_weights
from tensorbridge.runtime.registry import kernel

# A conv not planned with its Winograd weights transforms them per call only when the
# image has this many 2x2 output tiles: the transform costs about what ~64 tiles save.
_TRANSFORM_PER_CALL_TILES = 256
# Depthwise convs with at most this many output pixels per image take the channels-last
# tap loop (measured crossover: 7x7 outputs 1.3-2x faster, 14x14 even; see the docstring).
DEPTHWISE_TAPS_MAX_PIXELS = 100
# im2col copies the columns of this many bytes at a time (whole output rows), each block
# multiplied while it is still in L2. resnet50's 7x7 stem (147 x 12544 columns, 7.4 MB):
# 1.94 against 2.51 ms in the model; 3x3 stems on 3 channels unchanged.
IM2COL_BLOCK_BYTES = 512 * 1024
IM2COL_BLOCK_MIN_PIXELS = 2048


def check_conv_shapes(x: np.ndarray, w: np.ndarray, group: int, op: str) -> None:
    """Raise unless X (N, C, ...) and W (M, C/group, ...) fit together for ``op``."""
    if x.ndim < 3 or w.ndim != x.ndim:
        raise ValueError(f"{op}: X {x.shape} and W {w.shape} must both be (N, C, spatial...) "
                         "tensors of the same rank >= 3")
    if group < 1 or x.shape[1] != w.shape[1] * group or w.shape[0] % group:
        raise ValueError(f"{op}: X has {x.shape[1]} channels and W is {w.shape} with group="
                         f"{group}; need C == W.shape[1] * group and W.shape[0] % group == 0")


def conv_window(x: np.ndarray, w: np.ndarray, kernel_shape: list[int] | None,
                strides: list[int] | None, dilations: list[int] | None,
                pads: list[int] | None, auto_pad: str, op: str = "Conv") -> Window:
    """The sliding window of a conv-like op: W's spatial shape over X's spatial dims."""
    kshape = tuple(w.shape[2:])
    if kernel_shape and tuple(kernel_shape) != kshape:
        raise ValueError(f"{op}: kernel_shape {kernel_shape} does not match W's spatial shape {kshape}")
    return make_window(x.shape[2:], kshape, strides=strides, dilations=dilations, pads=pads,
                       auto_pad=auto_pad, op=op)


def _gemm_conv(xp: np.ndarray, w: np.ndarray, win: Window, group: int) -> np.ndarray:
    """im2col + GEMM, one image at a time, the columns copied and multiplied in blocks of
    output rows (:data:`IM2COL_BLOCK_BYTES`) so that a block is still cached when the GEMM
    reads it."""
    n, c = xp.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    pixels = prod(win.out_shape)
    wg = w.reshape(group, mg, -1)
    y = np.empty((n, group, mg, pixels), dtype=xp.dtype)
    if all(k == 1 for k in win.kernel):
        # 1x1: the "columns" are the (strided) input itself; reshape copies only when strided.
        unit = xp.shape[2:] == win.out_shape  # stride 1 over the whole image: xp itself
        cols_all = (xp if unit else tap_view(xp, win, (0,) * len(win.kernel))).reshape(n, group, cg, pixels)
        np.matmul(wg, cols_all, out=y)
    else:
        view = im2col_view(xp, win)
        k = cg * prod(win.kernel)
        rows = win.out_shape[0]
        width = pixels // rows if rows else 0
        row_cols = c * prod(win.kernel) * width  # column elements of one output row
        # Output rows per column block: about IM2COL_BLOCK_BYTES of columns, but never
        # fewer than IM2COL_BLOCK_MIN_PIXELS pixels (narrower GEMMs run slower than the
        # copy saves), so in practice only stems on a few channels are split.
        step = max(IM2COL_BLOCK_BYTES // max(1, row_cols * xp.itemsize),
                   -(-IM2COL_BLOCK_MIN_PIXELS // max(1, width)))
        step = max(1, min(rows, step))
        cols_buf = np.empty(row_cols * step, dtype=xp.dtype)
        lead = (slice(None),) * (1 + len(win.kernel))  # up to the first output axis
        for i in range(n):
            for r0 in range(0, rows, step):
                r1 = min(rows, r0 + step)
                block = cols_buf[:row_cols * (r1 - r0)].reshape(
                    c, *win.kernel, r1 - r0, *win.out_shape[1:])  # contiguous, also the last
                np.copyto(block, view[i][(*lead, slice(r0, r1))])
                np.matmul(wg, block.reshape(group, k, -1), out=y[i, :, :, r0 * width:r1 * width])
    return y.reshape(n, m, *win.out_shape)


def _depthwise_taps(xp: np.ndarray, w: np.ndarray, win: Window) -> np.ndarray:
    """Depthwise conv (group == C == M) of padded ``xp`` as one multiply-add per kernel tap,
    on arrays that are NCHW-shaped views of channels-last memory, so every inner loop runs
    over the (contiguous) channels rather than along a short, strided image row."""
    n, c = xp.shape[:2]
    nsp = xp.ndim - 2
    to_last, back = (0, *range(2, 2 + nsp), 1), (0, nsp + 1, *range(1, nsp + 1))
    xh = np.ascontiguousarray(xp.transpose(to_last)).transpose(back)
    taps = np.ascontiguousarray(w.reshape(c, -1).T).reshape(-1, 1, c, *([1] * nsp))
    y = np.empty((n, *win.out_shape, c), dtype=xp.dtype).transpose(back)
    tmp = np.empty_like(y)
    for t, tap in enumerate(win.taps):
        np.multiply(tap_view(xh, win, tap), taps[t], out=y if t == 0 else tmp)
        if t:
            y += tmp
    return np.ascontiguousarray(y)


def conv_nd(x: np.ndarray, w: np.ndarray, win: Window, group: int) -> np.ndarray:
    """Cross-correlate x (N, C, ...) with w (M, C/group, ...) in x's dtype (no bias) by
    im2col + GEMM: exact for integer-valued float64 data."""
    return _gemm_conv(pad_for_window(x, win, 0), w, win, group)


def conv_float(x: np.ndarray, w: np.ndarray, win: Window, group: int,
               winograd: np.ndarray | None = None) -> np.ndarray:
    """:func:`conv_nd` for float data, by the fastest path that applies: Winograd
    F(2x2, 3x3) (``winograd``: its transformed weights from :func:`winograd_for`, else
    transformed here when the image is big enough), the channels-last tap loop for depthwise
    convs with small outputs, or im2col + GEMM."""
    if winograd_applies(w.shape, win, group):
        tiles = -(-win.out_shape[0] // 2) * -(-win.out_shape[1] // 2)
        if winograd is None and tiles >= _TRANSFORM_PER_CALL_TILES:
            winograd = winograd_weights(w, group, x.dtype)
        if winograd is not None:
            return winograd_conv(x, winograd.astype(x.dtype, copy=False), win)
    if group == x.shape[1] == w.shape[0]:
        if x.ndim == 4 and _compiled.depthwise_applies(group, win.out_shape):
            return _compiled.depthwise_conv2d(x, w, win.strides, win.dilations, win.pads_begin,
                                              win.out_shape)
        if prod(win.out_shape) <= DEPTHWISE_TAPS_MAX_PIXELS:
            return _depthwise_taps(pad_for_window(x, win, 0), w, win)
    return conv_nd(x, w, win, group)


def winograd_for(w: np.ndarray, *, dilations: list[int] | None = None, group: int = 1,
                 strides: list[int] | None = None, **_: object) -> np.ndarray | None:
    """Plan time: the Winograd-transformed weights of a Conv with constant weights ``w``
    and these attributes, or None when its convolution never takes the Winograd path
    (whatever the image size: the path also needs enough output tiles, decided per call)."""
    if w.ndim != 4 or w.dtype.kind != "f" or any(v != 1 for v in (*(strides or ()), *(dilations or ()))):
        return None
    probe = make_window((3 + 2 * 16, 3 + 2 * 16), w.shape[2:])  # a window with plenty of tiles
    if not winograd_applies(w.shape, probe, group):
        return None
    return winograd_weights(w, group, compute_dtype(w.dtype))


def add_bias(y: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Add a per-output-channel bias B (M,) to y (N, M, ...) in place; None adds nothing."""
    if b is not None:
        if b.shape != (y.shape[1],):
            raise ValueError(f"bias B must have shape ({y.shape[1]},), got {b.shape}")
        y += b.astype(y.dtype, copy=False).reshape(1, -1, *([1] * (y.ndim - 2)))
    return y


@kernel("Conv", since=1)
def conv(X: np.ndarray, W: np.ndarray, B: np.ndarray | None = None, *,
         auto_pad: str = "NOTSET", dilations: list[int] | None = None, group: int = 1,
         kernel_shape: list[int] | None = None, pads: list[int] | None = None,
         strides: list[int] | None = None) -> np.ndarray:
    """Conv-1/11/22: Y = conv(X, W) + B; SAME_* pads give out = ceil(in / stride)."""
    return conv_into(X, W, B, auto_pad=auto_pad, dilations=dilations, group=group,
                     kernel_shape=kernel_shape, pads=pads, strides=strides)


def conv_into(X: np.ndarray, W: np.ndarray, B: np.ndarray | None = None, *,
              auto_pad: str = "NOTSET", dilations: list[int] | None = None, group: int = 1,
              kernel_shape: list[int] | None = None, pads: list[int] | None = None,
              strides: list[int] | None = None, winograd: np.ndarray | None = None) -> np.ndarray:
    """Conv as the kernel computes it, for fused chains that keep working in the result: a
    fresh buffer (never a view of X or W) in X's dtype. ``winograd``: W's transform from
    :func:`winograd_for`, made once when the chain was planned."""
    check_conv_shapes(X, W, group, "Conv")
    win = conv_window(X, W, kernel_shape, strides, dilations, pads, auto_pad)
    ct = compute_dtype(X.dtype)
    y = conv_float(X.astype(ct, copy=False), W.astype(ct, copy=False), win, group, winograd)
    y = add_bias(y, B).astype(X.dtype, copy=False)
    return y if y.base is None or y.base is not X else y.copy()


def _sample_positions(win: Window, offset: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Per spatial axis a, the (N, og, taps, *out) input coordinate each sample reads:
    the regular grid position of the tap plus its learned offset."""
    nsp = len(win.kernel)
    n = offset.shape[0]
    off = offset.reshape(n, n_groups, prod(win.kernel), nsp, *win.out_shape)
    taps = np.array(win.taps, dtype=np.int64).reshape(-1, nsp)
    coords = []
    for a in range(nsp):
        out_pos = np.arange(win.out_shape[a]) * win.strides[a] - win.pads_begin[a]
        shape = [1] * nsp
        shape[a] = -1
        grid = out_pos.reshape(shape)[None] + (taps[:, a] * win.dilations[a]).reshape(
            -1, *([1] * nsp))
        coords.append(off[:, :, :, a] + grid.astype(offset.dtype))
    return coords


def _deform_columns(x: np.ndarray, coords: list[np.ndarray], weight: np.ndarray) -> np.ndarray:
    """Multilinear samples of x (N, C, *in) at ``coords``; out-of-image corners read 0.

    Returns columns (N, C, taps * pixels) ready for the GEMM. Loops over the 2**ndim
    interpolation corners only; each corner is one vectorised gather.
    """
    n, c = x.shape[:2]
    in_shape = x.shape[2:]
    og = coords[0].shape[1]
    xf = x.reshape(n, og, c // og, prod(in_shape))
    steps = np.cumprod((1, *in_shape[:0:-1]))[::-1]
    floors = [np.floor(p) for p in coords]
    cols = np.zeros((n, og, c // og, weight[0, 0].size), dtype=x.dtype)
    for corner in np.ndindex(*(2,) * len(in_shape)):
        wt = weight.copy()
        lin = np.zeros(weight.shape, dtype=np.int64)
        for a, bit in enumerate(corner):
            idx = floors[a] + bit
            wt *= 1 - np.abs(coords[a] - idx)
            wt *= (idx >= 0) & (idx < in_shape[a])
            lin += np.clip(idx, 0, in_shape[a] - 1).astype(np.int64) * int(steps[a])
        vals = np.take_along_axis(xf, lin.reshape(n, og, 1, -1), axis=3)
        cols += vals * wt.reshape(n, og, 1, -1)
    return cols.reshape(n, c, -1)


@kernel("DeformConv", since=19)
def deform_conv(X: np.ndarray, W: np.ndarray, offset: np.ndarray, B: np.ndarray | None = None,
                mask: np.ndarray | None = None, *, dilations: list[int] | None = None,
                group: int = 1, kernel_shape: list[int] | None = None, offset_group: int = 1,
                pads: list[int] | None = None, strides: list[int] | None = None) -> np.ndarray:
    """DeformConv-19/22: conv whose taps sample X at learned offsets (N-D, multilinear)."""
    check_conv_shapes(X, W, group, "DeformConv")
    if offset_group < 1 or X.shape[1] % offset_group:
        raise ValueError(f"DeformConv: C={X.shape[1]} is not divisible by "
                         f"offset_group={offset_group}")
    win = conv_window(X, W, kernel_shape, strides, dilations, pads, "NOTSET", "DeformConv")
    n, nsp, taps = X.shape[0], X.ndim - 2, prod(win.kernel)
    expect = (n, offset_group * taps * nsp, *win.out_shape)
    if offset.shape != expect:
        raise ValueError(f"DeformConv: offset must have shape {expect}, got {offset.shape}")
    ct = compute_dtype(X.dtype)
    weight = np.ones((n, offset_group, taps, *win.out_shape), dtype=ct)
    if mask is not None:
        weight *= mask.astype(ct, copy=False).reshape(weight.shape)
    coords = _sample_positions(win, offset.astype(ct, copy=False), offset_group)
    cols = _deform_columns(X.astype(ct, copy=False), coords, weight)
    m = W.shape[0]
    wg = W.astype(ct, copy=False).reshape(group, m // group, -1)
    y = np.matmul(wg, cols.reshape(n, group, -1, prod(win.out_shape)))
    y = add_bias(y.reshape(n, m, *win.out_shape), B)
    return y.astype(X.dtype, copy=False)



def col2im_add(cols: np.ndarray, win: Window) -> np.ndarray:
    """Sum columns (N, C, *kernel, *positions) into an image (N, C, *full).

    ``win.out_shape`` is the grid of window positions; the image is exactly as large as
    the windows reach: ``(positions - 1) * stride + dilated kernel`` per axis.
    """
    full = [(o - 1) * s + e
            for o, s, e in zip(win.out_shape, win.strides, win.extents, strict=True)]
    img = np.zeros((*cols.shape[:2], *full), dtype=cols.dtype)
    for tap in win.taps:
        tap_view(img, win, tap)[...] += cols[(slice(None), slice(None), *tap)]  # type: ignore[arg-type]
    return img


@kernel("ConvTranspose", since=1)
def conv_transpose(X: np.ndarray, W: np.ndarray, B: np.ndarray | None = None, *,
                   auto_pad: str = "NOTSET", dilations: list[int] | None = None,
                   group: int = 1, kernel_shape: list[int] | None = None,
                   output_padding: list[int] | None = None,
                   output_shape: list[int] | None = None, pads: list[int] | None = None,
                   strides: list[int] | None = None) -> np.ndarray:
    """ConvTranspose-1/11/22: the gradient of Conv w.r.t. its input, plus B.

    ConvTranspose-1's text splits SAME_UPPER padding the other way round; that was a
    documentation slip fixed in opset 11 and runtimes implement the opset-11 rule for
    every version, so one kernel serves all.
    """
    if X.ndim < 3 or W.ndim != X.ndim or X.shape[1] != W.shape[0] or X.shape[1] % group:
        raise ValueError(f"ConvTranspose: X {X.shape} and W {W.shape} must be (N, C, ...) and "
                         f"(C, M/group, ...) with C divisible by group={group}")
    nsp = X.ndim - 2
    kshape = tuple(W.shape[2:])
    if kernel_shape and tuple(kernel_shape) != kshape:
        raise ValueError(f"ConvTranspose: kernel_shape {kernel_shape} does not match W's spatial shape {kshape}")
    in_shape = tuple(X.shape[2:])
    geo = conv_transpose_window("ConvTranspose", in_shape, kshape, strides=strides,
                                dilations=dilations, pads=pads, auto_pad=auto_pad,
                                output_padding=output_padding, output_shape=output_shape)
    begin, out = geo.crop_begin, geo.out_shape
    # Window over the unpadded output (without output_padding): positions = input pixels
    out_pad = per_axis("ConvTranspose", "output_padding", output_padding, nsp, 0)
    win = make_window([f - p for f, p in zip(geo.full, out_pad, strict=True)], kshape,
                      strides=strides, dilations=dilations, op="ConvTranspose")
    ct = compute_dtype(X.dtype)
    n, c = X.shape[:2]
    mg = W.shape[1]
    wt = W.astype(ct, copy=False).reshape(group, c // group, mg * prod(kshape)).transpose(0, 2, 1)
    xs = X.astype(ct, copy=False).reshape(n, group, c // group, prod(in_shape))
    y = np.empty((n, group * mg, *out), dtype=ct)
    for i in range(n):  # one image at a time keeps the column buffer one image big
        cols = np.matmul(wt, xs[i]).reshape(1, group * mg, *kshape, *in_shape)
        img = col2im_add(cols, win)
        ends = [o - (f - b) for o, f, b in zip(out, img.shape[2:], begin, strict=True)]
        y[i] = pad_spatial(img, [-b for b in begin], ends)[0]
    if B is not None:
        y += B.astype(ct, copy=False).reshape(1, -1, *([1] * nsp))
    return y.astype(X.dtype, copy=False)


@kernel("Col2Im", since=18)
def col2im(input: np.ndarray, image_shape: np.ndarray, block_shape: np.ndarray, *,
           dilations: list[int] | None = None, pads: list[int] | None = None,
           strides: list[int] | None = None) -> np.ndarray:
    """Col2Im-18: sum (N, C * prod(block), L) column blocks back into (N, C, *image_shape)."""
    image = [int(v) for v in np.asarray(image_shape).reshape(-1)]
    block = [int(v) for v in np.asarray(block_shape).reshape(-1)]
    win = make_window(image, block, strides=strides, dilations=dilations, pads=pads, op="Col2Im")
    n, cb, length = input.shape
    kp = prod(block)
    if cb % kp or length != prod(win.out_shape):
        raise ValueError(f"Col2Im: input {input.shape} does not match block_shape {block} with "
                         f"{prod(win.out_shape)} blocks ({list(win.out_shape)}) for image {image}")
    cols = input.reshape(n, cb // kp, *block, *win.out_shape)
    img = col2im_add(cols, win)
    ends = [i + b - f for i, b, f in zip(image, win.pads_begin, img.shape[2:], strict=True)]
    return pad_spatial(img, [-b for b in win.pads_begin], ends)
