"""Miscellaneous emitters: the classification losses (NegativeLogLikelihoodLoss,
SoftmaxCrossEntropyLoss), NonMaxSuppression, BitCast, SwiGLU, CenterCropPad, the
attention-state ops (TensorScatter, CausalConvWithState, LinearAttention) and the spatial
scatter/sampling ops (MaxUnpool, Col2Im, AffineGrid, RoiAlign).

Half-precision inputs are computed in float32 and cast back, as the runtime kernels do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "TensorFlow emitter"


def _work(x: Any) -> Any:
    """float16/bfloat16 as float32 (sums stay accurate); wider types unchanged."""
    return tf.cast(x, tf.float32) if x.dtype.size < 4 else x


def _scalar_int(v: Any) -> Any:
    return tf.reshape(tf.cast(v, tf.int64), [-1])[0]


# -------------------------------------------------------------------------------- losses


def _nll(log_prob: Any, target: Any, weight: Any, ignore_index: int | None,
         reduction: str, op: str) -> Any:
    """Weighted NLL of log-probabilities [N, C, d...] against class indices [N, d...]."""
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"{op} reduction must be 'none', 'sum' or 'mean', got {reduction!r}")
    rank = log_prob.shape.rank
    target = tf.cast(target, tf.int64)
    valid = None if ignore_index is None else tf.not_equal(target, ignore_index)
    safe = target if valid is None else tf.where(valid, target, tf.zeros_like(target))
    classes_last = tf.transpose(log_prob, [0, *range(2, rank), 1])
    loss = -tf.gather(classes_last, safe, axis=rank - 1, batch_dims=rank - 1)
    w = None if weight is None else tf.gather(tf.cast(weight, log_prob.dtype), safe)
    if valid is not None:
        w = tf.cast(valid, log_prob.dtype) if w is None else tf.where(valid, w, tf.zeros_like(w))
    if w is not None:
        loss = loss * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return tf.reduce_sum(loss)
    # 'mean' divides by the total applied weight, so ignored samples do not dilute it
    return tf.reduce_mean(loss) if w is None else tf.reduce_sum(loss) / tf.reduce_sum(w)


@emits("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(input: Any, target: Any, weight: Any = None, *,
                                 ignore_index: int | None = None,
                                 reduction: str = "mean") -> Any:
    """NegativeLogLikelihoodLoss-12/13/22: input[N, C, d...], target[N, d...], weight[C]?
    -> loss."""
    loss = _nll(_work(input), target, weight, ignore_index, reduction, "NegativeLogLikelihoodLoss")
    return tf.cast(loss, input.dtype)


@emits("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(scores: Any, labels: Any, weights: Any = None, *,
                               ignore_index: int | None = None, reduction: str = "mean",
                               ctx: EmitContext) -> Any:
    """SoftmaxCrossEntropyLoss-12/13: scores[N, C, d...], labels[N, d...], weights[C]?
    -> (output, log_prob?)."""
    log_prob = tf.nn.log_softmax(_work(scores), axis=1)
    loss = _nll(log_prob, labels, weights, ignore_index, reduction, "SoftmaxCrossEntropyLoss")
    loss = tf.cast(loss, scores.dtype)
    if ctx.n_outputs < 2:
        return loss
    return loss, tf.cast(log_prob, scores.dtype)


# ---------------------------------------------------------------------- non-max suppression


def _corners(boxes: Any, center_point_box: int) -> Any:
    """[..., 4] boxes -> (lo0, lo1, hi0, hi1) corners (tf's NMS orders diagonal corners itself)."""
    if center_point_box == 0:
        return boxes
    if center_point_box == 1:
        center, half = boxes[..., 0:2], boxes[..., 2:4] / 2
        return tf.concat([center - half, center + half], axis=-1)
    raise ValueError(f"NonMaxSuppression center_point_box must be 0 or 1, got {center_point_box}")


@emits("NonMaxSuppression", since=10)
def non_max_suppression(boxes: Any, scores: Any, max_output_boxes_per_class: Any = None,
                        iou_threshold: Any = None, score_threshold: Any = None, *,
                        center_point_box: int = 0) -> Any:
    """NonMaxSuppression-10/11: boxes[B, n, 4], scores[B, C, n] -> selected_indices[k, 3]
    (greedy per batch and class with tf.image.non_max_suppression)."""
    n_batch, n_class = scores.shape[0], scores.shape[1]
    if n_batch is None or n_class is None:
        raise UnsupportedOpError(LAYER, "NonMaxSuppression", hint="the batch and class counts "
                                 "of scores must be static; give the model static input shapes")
    if max_output_boxes_per_class is None:
        return tf.zeros([0, 3], tf.int64)
    max_out = tf.cast(tf.maximum(_scalar_int(max_output_boxes_per_class), 0), tf.int32)
    iou = 0.0 if iou_threshold is None else tf.reshape(tf.cast(iou_threshold, tf.float32), [-1])[0]
    # tf keeps scores > threshold (strict, as onnxruntime); None keeps every box
    score = (float("-inf") if score_threshold is None
             else tf.reshape(tf.cast(score_threshold, tf.float32), [-1])[0])
    corners = tf.cast(_corners(boxes, center_point_box), tf.float32)
    rows = []
    for b in range(n_batch):
        for c in range(n_class):
            kept = tf.image.non_max_suppression(corners[b], tf.cast(scores[b, c], tf.float32),
                                                max_out, iou, score)
            kept = tf.cast(kept, tf.int64)[:, None]
            fixed = tf.broadcast_to(tf.constant([[b, c]], tf.int64), [tf.shape(kept)[0], 2])
            rows.append(tf.concat([fixed, kept], axis=1))
    return tf.concat(rows, axis=0)


# ------------------------------------------------------------------------------- elementwise


@emits("BitCast", since=26)
def bit_cast(input: Any, *, to: int) -> Any:
    """BitCast-26: reinterpret the bits of each element as type ``to`` (same bit width)."""
    dst = tf_dtype(DType(to))
    if input.dtype == dst:
        return input
    if tf.bool in (input.dtype, dst):
        # a bool byte holds 0 or 1, the same bits an 8-bit integer 0/1 has (tf.bitcast
        # refuses bool)
        if dst == tf.bool:
            return tf.not_equal(input, tf.zeros_like(input))
        return tf.cast(input, dst)
    return tf.bitcast(input, dst)


@emits("SwiGLU", since=28)
def swiglu(A: Any, B: Any, *, alpha: float = 1.0) -> Any:
    """SwiGLU-28: Swish_alpha(A) * B, A and B of identical shape."""
    a = _work(A)
    y = a * tf.sigmoid(a * alpha) * tf.cast(B, a.dtype)
    return tf.cast(y, A.dtype)


@emits("CenterCropPad", since=18)
def center_crop_pad(input_data: Any, shape: Any, *, axes: Sequence[int] | None = None) -> Any:
    """CenterCropPad-18/21: crop or zero-pad each axis in ``axes`` to ``shape``, centred
    (an odd difference puts the extra cell at the end)."""
    rank = input_data.shape.rank
    ax = [a % rank for a in axes] if axes else list(range(rank))
    target = tf.reshape(tf.cast(shape, tf.int32), [-1])
    x = input_data
    for i, a in enumerate(ax):
        size = tf.shape(x)[a]
        diff = target[i] - size
        begin = tf.truncatediv(diff, 2)  # grow: pad diff // 2 in front; shrink: drop (-diff) // 2
        end = diff - begin
        start = [0] * rank
        start[a] = tf.maximum(-begin, 0)
        length = tf.tensor_scatter_nd_update(tf.shape(x), [[a]],
                                             [size - tf.maximum(-begin, 0) - tf.maximum(-end, 0)])
        x = tf.slice(x, tf.stack(start), length)
        pads = tf.tensor_scatter_nd_update(tf.zeros([rank, 2], tf.int32), [[a]],
                                           [tf.stack([tf.maximum(begin, 0), tf.maximum(end, 0)])])
        x = tf.pad(x, pads)
    return x


# ------------------------------------------------------------------ attention state


@emits("TensorScatter", since=24)
def tensor_scatter(past_cache: Any, update: Any, write_indices: Any = None, *, axis: int = -2,
                   mode: str = "linear") -> Any:
    """TensorScatter-24: past_cache, update, write_indices? -> present_cache (each batch
    row's update written from its write index along ``axis``; circular mode wraps)."""
    rank = past_cache.shape.rank
    if mode not in ("linear", "circular"):
        raise ValueError(f"TensorScatter mode must be 'linear' or 'circular', got {mode!r}")
    axis %= rank
    perm = [0, axis, *(i for i in range(1, rank) if i != axis)]
    back = [perm.index(i) for i in range(rank)]
    cache, upd = tf.transpose(past_cache, perm), tf.transpose(update, perm)
    batch, max_len, length = tf.shape(cache)[0], tf.shape(cache)[1], tf.shape(upd)[1]
    starts = (tf.zeros([batch], tf.int32) if write_indices is None
              else tf.reshape(tf.cast(write_indices, tf.int32), [-1]))
    pos = starts[:, None] + tf.range(length)[None, :]  # [batch, length]
    if mode == "circular":
        pos = tf.math.floormod(pos, max_len)
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(pos))
    present = tf.tensor_scatter_nd_update(cache, tf.stack([rows, pos], axis=-1), upd)
    return tf.transpose(present, back)


@emits("CausalConvWithState", since=27)
def causal_conv_with_state(input: Any, weight: Any, bias: Any = None, past_state: Any = None,
                           *, activation: str = "none") -> tuple[Any, Any]:
    """CausalConvWithState-27: input[B, C, L], weight[C, 1, k], bias[C]?,
    past_state[B, C, k-1]? -> output[B, C, L], present_state[B, C, k-1]."""
    if activation not in ("none", "silu", "swish"):
        raise ValueError(f"CausalConvWithState activation must be none, silu or swish, got {activation!r}")
    k = weight.shape[2]
    x = _work(input)
    shape = tf.shape(x)
    if past_state is None:
        past = tf.zeros(tf.stack([shape[0], shape[1], k - 1]), x.dtype)
    else:
        past = tf.cast(past_state, x.dtype)
    padded = tf.concat([past, x], axis=2)  # [B, C, k-1+L]
    w = tf.cast(weight[:, 0, :], x.dtype)
    length = shape[2]
    # cross-correlation as in Conv: tap j sees position t + j of the padded sequence, so
    # the last tap weighs the current sample
    out = tf.add_n([w[:, j, None] * padded[:, :, j:j + length] for j in range(k)])
    if bias is not None:
        out = out + tf.cast(bias, x.dtype)[:, None]
    if activation != "none":
        out = out * tf.sigmoid(out)
    present = padded[:, :, tf.shape(padded)[2] - (k - 1):]
    return tf.cast(out, input.dtype), tf.cast(present, input.dtype)


def _per_head(x: Any, hkv: int, dk: int, name: str) -> Any:
    """decay/beta [B, T, H*dk | H | 1] -> [B, T, H, dk | 1] (float32)."""
    last = x.shape[-1]
    shape = tf.shape(x)
    if last == hkv * dk and name == "decay":
        return tf.cast(tf.reshape(x, tf.stack([shape[0], shape[1], hkv, dk])), tf.float32)
    if last in (hkv, 1):
        return tf.cast(tf.reshape(x, tf.stack([shape[0], shape[1], last, 1])), tf.float32)
    raise ValueError(f"LinearAttention {name} has an unsupported last dimension {last}")


def _heads(x: Any, heads: int) -> Any:
    """[B, T, H*D] -> [T, B, H, D] float32 (time-major for tf.scan)."""
    shape = tf.shape(x)
    x = tf.reshape(tf.cast(x, tf.float32), tf.stack([shape[0], shape[1], heads, -1]))
    return tf.transpose(x, [1, 0, 2, 3])


def _time_major(x: Any) -> Any:
    return tf.transpose(x, [1, 0, *range(2, x.shape.rank)])


@emits("LinearAttention", since=27)
def linear_attention(query: Any, key: Any, value: Any, past_state: Any = None, decay: Any = None,
                     beta: Any = None, *, chunk_size: int = 64, kv_num_heads: int,
                     q_num_heads: int, scale: float = 0.0,
                     update_rule: str = "gated_delta") -> tuple[Any, Any]:
    """LinearAttention-27: query/key/value [B, T, H*D], past_state?, decay?, beta?
    -> output [B, T, Hq*dv], present_state [B, Hkv, dk, dv]. The exact recurrence runs as a
    tf.scan over time (chunk_size only tunes chunk-parallel kernels)."""
    gated, delta = update_rule in ("gated", "gated_delta"), update_rule in ("delta", "gated_delta")
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ValueError(f"LinearAttention update_rule {update_rule!r} is not one of linear, "
                         "gated, delta, gated_delta")
    if (gated and decay is None) or (delta and beta is None):
        raise ValueError(f"LinearAttention update_rule={update_rule!r} needs decay/beta inputs")
    dk, dv = query.shape[-1] // q_num_heads, value.shape[-1] // kv_num_heads
    group = q_num_heads // kv_num_heads
    q, k, v = _heads(query, q_num_heads), _heads(key, kv_num_heads), _heads(value, kv_num_heads)
    steps, batch = tf.shape(q)[0], tf.shape(q)[1]
    # query heads of one K/V group share its state: q as [T, B, Hkv, group, dk]
    qg = tf.reshape(q, tf.stack([steps, batch, kv_num_heads, group, dk]))
    qg = qg * (scale or 1.0 / float(dk) ** 0.5)
    ones = tf.ones(tf.stack([steps, batch, kv_num_heads, 1]), tf.float32)
    g = _time_major(_per_head(decay, kv_num_heads, dk, "decay")) if gated else ones
    b = _time_major(_per_head(beta, kv_num_heads, dk, "beta")) if delta else ones
    state0 = (tf.zeros(tf.stack([batch, kv_num_heads, dk, dv]), tf.float32) if past_state is None
              else tf.cast(past_state, tf.float32))

    def step(carry: tuple[Any, Any], xs: tuple[Any, ...]) -> tuple[Any, Any]:
        state, _ = carry
        qt, kt, vt, gt, bt = xs
        if gated:
            state = state * tf.exp(gt)[..., None]  # decay rows of S (the d_k axis)
        if delta:
            # delta rule: write only the part of v the (decayed) state does not yet predict
            vt = bt * (vt - tf.einsum("bhkv,bhk->bhv", state, kt))
        state = state + kt[..., :, None] * vt[..., None, :]
        return state, tf.matmul(qt, state)

    out0 = tf.zeros(tf.stack([batch, kv_num_heads, group, dv]), tf.float32)
    states, outs = tf.scan(step, (qg, k, v, g, b), initializer=(state0, out0))
    output = tf.reshape(tf.transpose(outs, [1, 0, 2, 3, 4]),
                        tf.stack([batch, steps, q_num_heads * dv]))
    present_dtype = query.dtype if past_state is None else past_state.dtype
    return tf.cast(output, query.dtype), tf.cast(states[-1], present_dtype)


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


@emits("AffineGrid", since=20)
def affine_grid(theta: Any, size: Any, *, align_corners: int = 0) -> Any:
    """AffineGrid-20: theta (N, r, r+1) applied to the normalised pixel-centre grid of
    ``size``; coordinates are listed innermost axis first, as GridSample reads them."""
    nsp = theta.shape[1]
    dims = tf.reshape(tf.cast(size, tf.int32), [-1])
    t = theta if theta.dtype == tf.float64 else tf.cast(theta, tf.float32)
    axes = []
    for a in range(nsp):
        length = dims[2 + a]
        i = tf.range(length, dtype=t.dtype)
        n = tf.cast(length, t.dtype)
        if align_corners:
            pos = tf.where(length > 1, -1.0 + 2.0 * tf.math.divide_no_nan(i, n - 1.0), tf.zeros_like(i))
        else:
            pos = (2.0 * i + 1.0) / n - 1.0
        axes.append(pos)
    mesh = tf.meshgrid(*axes, indexing="ij")  # outermost axis first
    base = tf.stack([*mesh[::-1], tf.ones_like(mesh[0])], axis=-1)  # (*sp, r+1)
    grid = tf.einsum("...k,njk->n...j", base, t)
    return tf.cast(grid, theta.dtype)


def _sample_axis(start: Any, extent: Any, pooled: int, grid: int, size: Any) -> tuple[Any, Any]:
    """RoiAlign's bilinear taps along one axis for every roi: (R, pooled, size) weight
    matrices of the low and high cell, the samples of one bin summed (avg) or kept apart."""
    dt = start.dtype
    bin_size = extent / pooled  # (R,)
    p = tf.range(pooled, dtype=dt)[:, None]
    g = (tf.range(grid, dtype=dt)[None, :] + 0.5) / grid
    pos = start[:, None, None] + (p + g)[None] * bin_size[:, None, None]  # (R, pooled, grid)
    fsize = tf.cast(size, dt)
    valid = tf.cast((pos >= -1.0) & (pos <= fsize), dt)
    pos = tf.maximum(pos, 0.0)
    low = tf.floor(pos)
    at_edge = low >= fsize - 1
    low = tf.where(at_edge, fsize - 1, low)
    high = tf.where(at_edge, fsize - 1, low + 1)
    frac = tf.where(at_edge, tf.zeros_like(pos), pos - low)
    w_low = tf.one_hot(tf.cast(low, tf.int32), size, dtype=dt) * ((1.0 - frac) * valid)[..., None]
    w_high = tf.one_hot(tf.cast(high, tf.int32), size, dtype=dt) * (frac * valid)[..., None]
    return w_low, w_high  # (R, pooled, grid, size)


def _roi_align(X: Any, rois: Any, batch_indices: Any, mode: str, output_height: int,
               output_width: int, sampling_ratio: int, spatial_scale: float,
               half_pixel: bool) -> Any:
    if mode not in ("avg", "max"):
        raise ValueError(f"RoiAlign: mode must be 'avg' or 'max', got {mode!r}")
    if sampling_ratio <= 0:
        raise UnsupportedOpError(LAYER, "RoiAlign", hint="sampling_ratio=0 (adaptive per-roi "
                                 "sample counts) is not supported; set a positive sampling_ratio")
    x = _work(X)
    img = tf.gather(x, tf.cast(batch_indices, tf.int32))  # (R, C, H, W)
    boxes = tf.cast(rois, x.dtype) * spatial_scale - (0.5 if half_pixel else 0.0)
    x1, y1, x2, y2 = tf.unstack(boxes, axis=1)
    rh, rw = y2 - y1, x2 - x1
    if not half_pixel:  # the legacy mode forces boxes to be at least one cell
        rh, rw = tf.maximum(rh, 1.0), tf.maximum(rw, 1.0)
    h, w = tf.shape(x)[2], tf.shape(x)[3]
    g = sampling_ratio
    ylo, yhi = _sample_axis(y1, rh, output_height, g, h)
    xlo, xhi = _sample_axis(x1, rw, output_width, g, w)
    if mode == "avg":
        ay = tf.reduce_sum(ylo + yhi, axis=2) / (g * g)
        ax = tf.reduce_sum(xlo + xhi, axis=2)
        y = tf.einsum("rph,rchw,rqw->rcpq", ay, img, ax)
    else:
        # max: the maximum over samples of the largest weighted corner (onnxruntime's rule,
        # which the ONNX conformance data follows), not of the interpolated value
        corners = [tf.einsum("rpih,rchw,rqjw->rcpiqj", wy, img, wx)
                   for wy in (ylo, yhi) for wx in (xlo, xhi)]
        y = tf.reduce_max(tf.reduce_max(tf.stack(corners), axis=0), axis=[3, 5])
    return tf.cast(y, X.dtype)


@emits("RoiAlign", since=10)
def roi_align_10(X: Any, rois: Any, batch_indices: Any, *, mode: str = "avg",
                 output_height: int = 1, output_width: int = 1, sampling_ratio: int = 0,
                 spatial_scale: float = 1.0) -> Any:
    """RoiAlign-10: bilinear RoI pooling, boxes (x1, y1, x2, y2) without the half-pixel shift."""
    return _roi_align(X, rois, batch_indices, mode, output_height, output_width,
                      sampling_ratio, spatial_scale, half_pixel=False)


@emits("RoiAlign", since=16)
def roi_align_16(X: Any, rois: Any, batch_indices: Any, *,
                 coordinate_transformation_mode: str = "half_pixel", mode: str = "avg",
                 output_height: int = 1, output_width: int = 1, sampling_ratio: int = 0,
                 spatial_scale: float = 1.0) -> Any:
    """RoiAlign-16/22: adds coordinate_transformation_mode (half_pixel by default)."""
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise ValueError("RoiAlign: coordinate_transformation_mode must be 'half_pixel' or "
                         f"'output_half_pixel', got {coordinate_transformation_mode!r}")
    return _roi_align(X, rois, batch_indices, mode, output_height, output_width,
                      sampling_ratio, spatial_scale,
                      half_pixel=coordinate_transformation_mode == "half_pixel")


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
    x = _work(X)
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
