"""Normalisation, Dropout, loss, NonMaxSuppression and RoiAlign emitters.

Statistics of float16/bfloat16 inputs are computed in float32 (or the op's ``stash_type``)
and the result is cast back, as ONNX's function bodies and the runtime do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import Host, T, scalar
from tensorbridge.converters.pytorch.from_ir.ops.elementwise import dtype_of
from tensorbridge.converters.pytorch.from_ir.ops.nn import info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
_HALF = (torch.float16, torch.bfloat16)


def work_dtype(dtype: torch.dtype | None) -> torch.dtype | None:
    return torch.float32 if dtype in _HALF else dtype


def _stash(stash_type: int) -> torch.dtype:
    """The precision of the statistics: stash_type, never below float32."""
    dt = torch_dtype(DType(stash_type))
    return torch.float32 if dt in _HALF else dt


def _channel_view(v: Any, rank: int) -> Any:
    return T(v).reshape(-1, *[1] * (rank - 2))


# ----------------------------------------------------------------------- batch norm


def _bn_inference(X: Any, scale: Any, B: Any, mean: Any, var: Any, epsilon: float,
                  ctx: EmitContext, spatial: int = 1) -> Any:
    """scale * (x - mean) / sqrt(var + eps) + B, folded into one multiply-add a * x + c.
    The statistics do not go to F.batch_norm as running statistics: it refuses their
    gradients, which an ONNX file's initializers (taken as weights) may ask for."""
    x = T(X)
    dtype = dtype_of(ctx, 0, x)
    ct = work_dtype(dtype)
    s, b, m, v = (T(t).to(ct) for t in (scale, B, mean, var))
    a = s * torch.rsqrt(v + epsilon)
    shift = b - m * a
    if spatial:
        # per-channel multiply-add with torch's fused kernel (rank-free): zero mean, unit
        # variance and eps 0 leave exactly a * x + shift
        y = F.batch_norm(x.to(ct), torch.zeros_like(a), torch.ones_like(a), a, shift,
                         False, 0.0, 0.0)
        return y.to(dtype)
    shape = info(x, ctx).shape[1:]  # legacy spatial=0: one statistic per activation
    return (x.to(ct) * a.reshape(shape) + shift.reshape(shape)).to(dtype)


def _bn_training(X: Any, scale: Any, B: Any, mean: Any, var: Any, epsilon: float,
                 momentum: float, ctx: EmitContext, spatial: int = 1) -> tuple[Any, ...]:
    """(Y, running_mean, running_var, batch_mean, batch_var) from the batch statistics."""
    x, m0, v0 = T(X), T(mean), T(var)
    xi, mi = info(x, ctx), info(m0, ctx, 3)
    ct = work_dtype(xi.dtype)
    xc = x.to(ct)
    dims = [0, *range(2, xi.rank)] if spatial else [0]
    bv, bm = torch.var_mean(xc, dim=dims, correction=0, keepdim=True)
    view = (lambda t: _channel_view(t, xi.rank)) if spatial else (lambda t: t.reshape(xi.shape[1:]))
    y = (xc - bm) * torch.rsqrt(bv + epsilon) * view(T(scale).to(ct)) + view(T(B).to(ct))
    bm, bv = bm.reshape(mi.shape), bv.reshape(mi.shape)
    run_m = (m0.to(ct) * momentum + bm * (1 - momentum)).to(mi.dtype)
    run_v = (v0.to(ct) * momentum + bv * (1 - momentum)).to(mi.dtype)
    return y.to(xi.dtype), run_m, run_v, bm.to(mi.dtype), bv.to(mi.dtype)


def _bn_legacy(X: Any, scale: Any, B: Any, mean: Any, var: Any, epsilon: float,
               momentum: float, spatial: int, training: bool, ctx: EmitContext) -> Any:
    """Opsets 1-9: training iff the node wires the statistics outputs (and not is_test)."""
    if ctx.n_outputs < 2:
        return _bn_inference(X, scale, B, mean, var, epsilon, ctx, spatial)
    if not training:
        y = _bn_inference(X, scale, B, mean, var, epsilon, ctx, spatial)
        return (y, T(mean), T(var), T(mean), T(var))[:ctx.n_outputs]
    return _bn_training(X, scale, B, mean, var, epsilon, momentum, ctx, spatial)[:ctx.n_outputs]


@emits("BatchNormalization", since=1)
def batch_normalization_1(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                          consumed_inputs: tuple[int, ...] | None = None,
                          epsilon: float = 1e-5, is_test: int = 0, momentum: float = 0.9,
                          spatial: int = 1, ctx: EmitContext) -> Any:
    """BatchNormalization-1: like 6 (consumed_inputs is a legacy no-op)."""
    return _bn_legacy(X, scale, B, mean, var, epsilon, momentum, spatial, not is_test, ctx)


@emits("BatchNormalization", since=6)
def batch_normalization_6(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                          epsilon: float = 1e-5, is_test: int = 0, momentum: float = 0.9,
                          spatial: int = 1, ctx: EmitContext) -> Any:
    """BatchNormalization-6: Y[, mean, var, saved_mean, saved_var]."""
    return _bn_legacy(X, scale, B, mean, var, epsilon, momentum, spatial, not is_test, ctx)


@emits("BatchNormalization", since=7)
def batch_normalization_7(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                          epsilon: float = 1e-5, momentum: float = 0.9, spatial: int = 1,
                          ctx: EmitContext) -> Any:
    """BatchNormalization-7: is_test removed."""
    return _bn_legacy(X, scale, B, mean, var, epsilon, momentum, spatial, True, ctx)


@emits("BatchNormalization", since=9)
def batch_normalization_9(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                          epsilon: float = 1e-5, momentum: float = 0.9,
                          ctx: EmitContext) -> Any:
    """BatchNormalization-9: spatial removed (always per channel)."""
    return _bn_legacy(X, scale, B, mean, var, epsilon, momentum, 1, True, ctx)


@emits("BatchNormalization", since=14)
def batch_normalization_14(X: Any, scale: Any, B: Any, input_mean: Any, input_var: Any, *,
                           epsilon: float = 1e-5, momentum: float = 0.9,
                           training_mode: int = 0, ctx: EmitContext) -> Any:
    """BatchNormalization-14/15: Y[, running_mean, running_var] (outputs only in training)."""
    if not training_mode:
        return _bn_inference(X, scale, B, input_mean, input_var, epsilon, ctx)
    out = _bn_training(X, scale, B, input_mean, input_var, epsilon, momentum, ctx)
    return out[:3] if ctx.n_outputs > 1 else out[0]


# ----------------------------------------------------------- instance / layer / group


@emits("InstanceNormalization", since=1)
def instance_normalization_1(input: Any, scale: Any, B: Any, *,
                             consumed_inputs: tuple[int, ...] | None = None,
                             epsilon: float = 1e-5, ctx: EmitContext | None = None) -> Any:
    """InstanceNormalization-1: like 6 (consumed_inputs is a legacy no-op)."""
    return instance_normalization(input, scale, B, epsilon=epsilon, ctx=ctx)


@emits("InstanceNormalization", since=6)
def instance_normalization(input: Any, scale: Any, B: Any, *, epsilon: float = 1e-5,
                           ctx: EmitContext | None = None) -> Any:
    """InstanceNormalization-6/22: per (n, c) standardisation, then scale * y + B."""
    x = T(input)
    dtype = dtype_of(ctx, 0, x)
    ct = work_dtype(dtype)
    return F.instance_norm(x.to(ct), weight=T(scale).to(ct), bias=T(B).to(ct),
                           eps=epsilon).to(dtype)


def _matches(ctx: EmitContext, i: int, shape: Sequence[Any]) -> bool:
    """Input i statically has exactly ``shape`` (so torch's fused affine can take it)."""
    s = ctx.input_shape(i)
    return s is not None and len(s) == len(shape) and all(
        isinstance(a, int) and a == b for a, b in zip(s, shape, strict=True))


@emits("LayerNormalization", since=17)
def layer_normalization(X: Any, Scale: Any, B: Any = None, *, axis: int = -1,
                        epsilon: float = 1e-5, stash_type: int = 1,
                        ctx: EmitContext) -> Any:
    """LayerNormalization-17: standardise over axes [axis, rank) -> Y[, Mean, InvStdDev]."""
    x, w = T(X), T(Scale)
    b = None if B is None else T(B)
    xi = info(x, ctx)
    r = xi.rank
    axis %= r
    work = _stash(stash_type)
    shape = xi.shape[axis:]
    fused = ctx.n_outputs < 2 and _matches(ctx, 1, shape) and (b is None or _matches(ctx, 2, shape))
    if fused:
        return F.layer_norm(x.to(work), shape, w.to(work), None if b is None else b.to(work),
                            epsilon).to(xi.dtype)
    dims = list(range(axis, r))
    var, mean = torch.var_mean(x.to(work), dim=dims, correction=0, keepdim=True)
    inv = torch.rsqrt(var + epsilon)
    y = ((x.to(work) - mean) * inv).to(xi.dtype) * w  # Scale and B only broadcast
    if b is not None:
        y = y + b
    y = y.to(xi.dtype)
    if ctx.n_outputs < 2:
        return y
    stash = torch_dtype(DType(stash_type))
    return (y, mean.to(stash), inv.to(stash))[:ctx.n_outputs]


def _group_norm(X: Any, scale: Any, bias: Any, num_groups: int | None, epsilon: float,
                work: torch.dtype | None, per_group: bool, ctx: EmitContext | None) -> Any:
    if num_groups is None:
        raise UnsupportedOpError(LAYER, "GroupNormalization", hint="num_groups is required")
    x = T(X)
    dtype = dtype_of(ctx, 0, x)
    ct = work or work_dtype(dtype)
    s, b = T(scale).to(ct), T(bias).to(ct)
    if per_group:  # opset 18: one scale/bias per group, i.e. per run of C / G channels
        per = info(x, ctx).shape[1] // num_groups
        s, b = s.repeat_interleave(per), b.repeat_interleave(per)
    return F.group_norm(x.to(ct), num_groups, s, b, epsilon).to(dtype)


@emits("GroupNormalization", since=18)
def group_normalization_18(X: Any, scale: Any, bias: Any, *, epsilon: float = 1e-5,
                           num_groups: int | None = None, ctx: EmitContext | None = None) -> Any:
    """GroupNormalization-18: scale and bias have one value per group."""
    return _group_norm(X, scale, bias, num_groups, epsilon, None, True, ctx)


@emits("GroupNormalization", since=21)
def group_normalization_21(X: Any, scale: Any, bias: Any, *, epsilon: float = 1e-5,
                           num_groups: int | None = None, stash_type: int = 1,
                           ctx: EmitContext | None = None) -> Any:
    """GroupNormalization-21: scale and bias per channel; statistics in stash_type."""
    return _group_norm(X, scale, bias, num_groups, epsilon, _stash(stash_type), False, ctx)


@emits("RMSNormalization", since=23)
def rms_normalization(X: Any, scale: Any, *, axis: int = -1, epsilon: float = 1e-5,
                      stash_type: int = 1, ctx: EmitContext | None = None) -> Any:
    """RMSNormalization-23: X / sqrt(mean(X^2 over [axis, rank)) + eps) * scale."""
    x, s = T(X), T(scale)
    xi = info(x, ctx)
    r = xi.rank
    xs = x.to(_stash(stash_type))
    ms = (xs * xs).mean(dim=list(range(axis % r, r)), keepdim=True)
    return ((xs * torch.rsqrt(ms + epsilon)).to(xi.dtype) * s).to(info(s, ctx, 1).dtype)


# ------------------------------------------------------------------- LRN / MVN / Lp


@emits("LRN", since=1)
def lrn(X: Any, *, alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0,
        size: int | None = None, ctx: EmitContext | None = None) -> Any:
    """LRN-1/13: X / (bias + alpha / size * sum of squares over a channel window) ** beta."""
    if size is None or size < 1:
        raise UnsupportedOpError(LAYER, "LRN", hint=f"size must be a positive int, got {size}")
    x = T(X)
    xi = info(x, ctx)
    xc = x.to(work_dtype(xi.dtype))
    # F.local_response_norm centres even windows one channel earlier than ONNX
    # (floor((size-1)/2) before, ceil((size-1)/2) after), so pool the squares directly.
    sq = (xc * xc).reshape(xi.shape[0], 1, xi.shape[1], -1)
    lo = (size - 1) // 2
    sq = F.pad(sq, [0, 0, lo, size - 1 - lo])
    mean = F.avg_pool2d(sq, (size, 1), stride=1).reshape(xi.shape)
    return (xc / (bias + alpha * mean) ** beta).to(xi.dtype)


@emits("MeanVarianceNormalization", since=9)
def mean_variance_normalization(X: Any, *, axes: tuple[int, ...] | None = None,
                                ctx: EmitContext | None = None) -> Any:
    """MeanVarianceNormalization-9/13: (X - E[X]) / (sqrt(Var[X]) + 1e-9) over axes."""
    x = T(X)
    dtype = info(x, ctx).dtype
    xc = x.to(work_dtype(dtype))
    dims = list(axes) if axes is not None else [0, 2, 3]
    var, mean = torch.var_mean(xc, dim=dims, correction=0, keepdim=True)
    return ((xc - mean) / (torch.sqrt(var) + 1e-9)).to(dtype)  # the body's epsilon


@emits("LpNormalization", since=1)
def lp_normalization(input: Any, *, axis: int = -1, p: int = 2) -> Any:
    """LpNormalization-1/22: input / ||input||_p along axis (zero norms give 0)."""
    if p not in (1, 2):
        raise UnsupportedOpError(LAYER, "LpNormalization", hint=f"p must be 1 or 2, got {p}")
    x = T(input)
    norm = torch.linalg.vector_norm(x, ord=p, dim=axis, keepdim=True)
    return x / torch.where(norm == 0, torch.ones_like(norm), norm)


# ----------------------------------------------------------------------------- dropout


def _dropout_outputs(y: Any, mask: Any, ctx: EmitContext) -> Any:
    return y if ctx.n_outputs < 2 else (y, mask)


def _random_dropout(x: Any, ratio: Any) -> tuple[Any, Any]:
    """Training-mode dropout with torch's generator (ratio may be a tensor)."""
    keep = torch.rand_like(x, dtype=torch.float32) >= ratio
    return x * keep / (1 - ratio), keep


def _dropout_legacy(data: Any, is_test: int, ratio: float, ctx: EmitContext) -> Any:
    x = T(data)
    if is_test:
        return _dropout_outputs(x, torch.ones_like(x), ctx)
    y, keep = _random_dropout(x, ratio)
    dtype = info(x, ctx).dtype
    return _dropout_outputs(y.to(dtype), keep.to(dtype), ctx)


@emits("Dropout", since=1)
def dropout_1(data: Any, *, consumed_inputs: tuple[int, ...] | None = None, is_test: int = 0,
              ratio: float = 0.5, ctx: EmitContext) -> Any:
    """Dropout-1: like 6 (consumed_inputs is a legacy no-op)."""
    return _dropout_legacy(data, is_test, ratio, ctx)


@emits("Dropout", since=6)
def dropout_6(data: Any, *, is_test: int = 0, ratio: float = 0.5, ctx: EmitContext) -> Any:
    """Dropout-6: random dropout unless is_test; the mask has data's dtype."""
    return _dropout_legacy(data, is_test, ratio, ctx)


@emits("Dropout", since=7)
def dropout_7(data: Any, *, ratio: float = 0.5, ctx: EmitContext) -> Any:
    """Dropout-7: identity at inference; the mask has data's dtype."""
    return _dropout_legacy(data, 1, ratio, ctx)


@emits("Dropout", since=10)
def dropout_10(data: Any, *, ratio: float = 0.5, ctx: EmitContext) -> Any:
    """Dropout-10: identity at inference; the mask is bool."""
    x = T(data)
    return _dropout_outputs(x, torch.ones_like(x, dtype=torch.bool), ctx)


@emits("Dropout", since=12)
def dropout_12(data: Any, ratio: Any = None, training_mode: Any = None, *,
               seed: int | None = None, ctx: EmitContext) -> Any:
    """Dropout-12/13/22: identity unless training_mode; then data * mask / (1 - ratio).

    ``seed`` cannot be honoured: torch's generator does not reproduce ONNX's (numpy's)
    random stream, and a generator seeded inside forward would not export."""
    x = T(data)
    ones = torch.ones_like(x, dtype=torch.bool)
    if training_mode is None or (isinstance(training_mode, Host) and not scalar(training_mode)):
        return _dropout_outputs(x, ones, ctx)
    y, keep = _random_dropout(x, 0.5 if ratio is None else T(ratio))
    y = y.to(info(x, ctx).dtype)
    if isinstance(training_mode, Host):
        return _dropout_outputs(y, keep, ctx)
    # a tensor flag: select, so the graph does not branch on data
    flag = T(training_mode).to(torch.bool)
    return _dropout_outputs(torch.where(flag, y, x), torch.where(flag, keep, ones), ctx)


# ------------------------------------------------------------------------------ losses


def _nll(log_prob: Any, target: Any, weight: Any, ignore_index: int | None,
         reduction: str, dtype: torch.dtype | None) -> Any:
    if reduction not in ("none", "sum", "mean"):
        raise UnsupportedOpError(LAYER, "NegativeLogLikelihoodLoss",
                                 hint=f"reduction must be none, sum or mean, got {reduction!r}")
    w = None if weight is None else T(weight).to(dtype)
    # torch's default ignore_index (-100) is never a valid ONNX class index
    ii = -100 if ignore_index is None else ignore_index
    return F.nll_loss(log_prob, T(target).long(), w, ignore_index=ii, reduction=reduction)


@emits("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(input: Any, target: Any, weight: Any = None, *,
                                 ignore_index: int | None = None,
                                 reduction: str = "mean", ctx: EmitContext | None = None) -> Any:
    """NegativeLogLikelihoodLoss-12/13/22: input[N, C, d...], target[N, d...], weight[C]?"""
    x = T(input)
    dtype = info(x, ctx).dtype
    ct = work_dtype(dtype)
    return _nll(x.to(ct), target, weight, ignore_index, reduction, ct).to(dtype)


@emits("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(scores: Any, labels: Any, weights: Any = None, *,
                               ignore_index: int | None = None,
                               reduction: str = "mean", ctx: EmitContext) -> Any:
    """SoftmaxCrossEntropyLoss-12/13: -> output[, log_prob]."""
    x = T(scores)
    dtype = info(x, ctx).dtype
    ct = work_dtype(dtype)
    log_prob = F.log_softmax(x.to(ct), dim=1)
    loss = _nll(log_prob, labels, weights, ignore_index, reduction, ct)
    if ctx.n_outputs < 2:
        return loss.to(dtype)
    return loss.to(dtype), log_prob.to(dtype)


# -------------------------------------------------------------------- NMS / RoiAlign


def _corners(boxes: Any, center_point_box: int) -> Any:
    """[..., 4] boxes -> (lo0, lo1, hi0, hi1) with lo <= hi on both axes."""
    a, b = boxes[..., 0:2], boxes[..., 2:4]
    if center_point_box == 0:  # any diagonal pair of corners is allowed
        return torch.cat((torch.minimum(a, b), torch.maximum(a, b)), dim=-1)
    if center_point_box == 1:
        return torch.cat((a - b / 2, a + b / 2), dim=-1)
    raise UnsupportedOpError(LAYER, "NonMaxSuppression",
                             hint=f"center_point_box must be 0 or 1, got {center_point_box}")


def _iou(c: Any) -> Any:
    """Pairwise IoU of [..., n, 4] corner boxes -> [..., n, n] (zero union scores 0)."""
    lo = torch.maximum(c[..., :, None, :2], c[..., None, :, :2])
    hi = torch.minimum(c[..., :, None, 2:], c[..., None, :, 2:])
    inter = (hi - lo).clamp_min(0).prod(-1)
    area = (c[..., 2:] - c[..., :2]).prod(-1)
    union = area[..., :, None] + area[..., None, :] - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, 1.0), 0.0)


@emits("NonMaxSuppression", since=10)
def non_max_suppression(boxes: Any, scores: Any, max_output_boxes_per_class: Any = None,
                        iou_threshold: Any = None, score_threshold: Any = None, *,
                        center_point_box: int = 0, ctx: EmitContext | None = None) -> Any:
    """NonMaxSuppression-10/11: boxes[B, n, 4], scores[B, C, n] -> selected[k, 3].

    Greedy selection over the n boxes in score order, vectorised over batch and class;
    the thresholds stay tensors (no reads), only the final nonzero is data-sized."""
    bx, sc = T(boxes).double(), T(scores)
    nb, nc, n = info(sc, ctx, 1).shape
    order = torch.argsort(sc, dim=-1, descending=True, stable=True)  # [B, C, n]
    ranked = torch.gather(sc, 2, order)
    corners = _corners(bx, center_point_box)[:, None].expand(nb, nc, n, 4)
    iou = _iou(torch.gather(corners, 2, order[..., None].expand(nb, nc, n, 4)))
    limit = 0 if max_output_boxes_per_class is None else T(max_output_boxes_per_class).reshape(())
    thr = 0.0 if iou_threshold is None else T(iou_threshold).reshape(()).double()
    # strict '>' as onnxruntime: a box scoring exactly the threshold is dropped
    ok = torch.ones_like(ranked, dtype=torch.bool) if score_threshold is None else \
        ranked > T(score_threshold).reshape(())
    suppressed = torch.zeros_like(ok)
    count = torch.zeros(nb, nc, dtype=torch.int64)
    keep = [torch.zeros(nb, nc, 0, dtype=torch.bool)]
    for i in range(n):  # greedy NMS is sequential in the boxes, static in their number
        take = ok[..., i] & ~suppressed[..., i] & (count < limit)
        keep.append(take[..., None])
        suppressed = suppressed | (take[..., None] & (iou[..., i, :] > thr))
        count = count + take.long()
    picked = torch.cat(keep, dim=-1).nonzero()  # rows (b, c, rank), in selection order
    index = order[picked[:, 0], picked[:, 1], picked[:, 2]]
    return torch.stack((picked[:, 0], picked[:, 1], index), dim=1)


def _sample_axis(start: Any, extent: Any, pooled: int, grid: int, size: int) -> tuple[Any, ...]:
    """Bilinear taps of RoiAlign's regular sampling grid along one axis, per box:
    (low cell, high cell, low weight, high weight), each [R, pooled * grid]. Samples more
    than one cell outside the image weigh 0; the others are clamped into it."""
    f64 = torch.float64  # the boxes are converted to float64
    steps = (torch.arange(pooled, dtype=f64)[:, None]
             + (torch.arange(grid, dtype=f64)[None, :] + 0.5) / grid).reshape(-1)
    pos = start[:, None] + steps[None, :] * (extent / pooled)[:, None]
    valid = ((pos >= -1.0) & (pos <= size)).to(f64)
    pos = pos.clamp_min(0.0)
    low = pos.floor()
    edge = low >= size - 1
    low = torch.where(edge, size - 1.0, low)
    high = torch.where(edge, size - 1.0, low + 1)
    frac = torch.where(edge, 0.0, pos - low)
    return low.long(), high.long(), (1 - frac) * valid, frac * valid


def _roi_align(X: Any, rois: Any, batch_indices: Any, mode: str, oh: int, ow: int,
               sampling_ratio: int, spatial_scale: float, half_pixel: bool,
               ctx: EmitContext) -> Any:
    if mode not in ("avg", "max"):
        raise UnsupportedOpError(LAYER, "RoiAlign", hint=f"mode must be avg or max, got {mode!r}")
    if sampling_ratio <= 0:
        raise UnsupportedOpError(LAYER, "RoiAlign", hint="sampling_ratio=0 sizes the sampling "
                                 "grid from each box's data; set a fixed sampling_ratio > 0")
    x = T(X)
    xi = info(x, ctx)
    h, w = xi.shape[2:]
    boxes = T(rois).double() * spatial_scale - (0.5 if half_pixel else 0.0)
    rh, rw = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    if not half_pixel:  # the legacy mode forces boxes to be at least one cell
        rh, rw = rh.clamp_min(1.0), rw.clamp_min(1.0)
    g = sampling_ratio
    ylo, yhi, wy0, wy1 = _sample_axis(boxes[:, 1], rh, oh, g, h)
    xlo, xhi, wx0, wx1 = _sample_axis(boxes[:, 0], rw, ow, g, w)
    ct = work_dtype(xi.dtype)
    feats = x[T(batch_indices).long()].to(ct)  # [R, C, H, W]
    rows = [F.one_hot(i, h).to(ct) * wt[..., None].to(ct) for i, wt in ((ylo, wy0), (yhi, wy1))]
    cols = [F.one_hot(i, w).to(ct) * wt[..., None].to(ct) for i, wt in ((xlo, wx0), (xhi, wx1))]
    if mode == "avg":  # separable: one row and one column interpolation matrix per box
        ay = (rows[0] + rows[1]).unflatten(1, (oh, g)).sum(2) / (g * g)
        ax = (cols[0] + cols[1]).unflatten(1, (ow, g)).sum(2)
        return torch.einsum("rph,rchw,rqw->rcpq", ay, feats, ax).to(xi.dtype)
    # max: the maximum over samples of the largest weighted corner (onnxruntime's rule)
    corners = [torch.einsum("rph,rchw,rqw->rcpq", ay, feats, ax) for ay in rows for ax in cols]
    best = torch.stack(corners).amax(0).unflatten(3, (ow, g)).unflatten(2, (oh, g))
    return best.amax(dim=(3, 5)).to(xi.dtype)


@emits("RoiAlign", since=10)
def roi_align_10(X: Any, rois: Any, batch_indices: Any, *, mode: str = "avg",
                 output_height: int = 1, output_width: int = 1, sampling_ratio: int = 0,
                 spatial_scale: float = 1.0, ctx: EmitContext) -> Any:
    """RoiAlign-10: bilinear RoI pooling without the half-pixel shift."""
    return _roi_align(X, rois, batch_indices, mode, output_height, output_width,
                      sampling_ratio, spatial_scale, False, ctx)


@emits("RoiAlign", since=16)
def roi_align_16(X: Any, rois: Any, batch_indices: Any, *,
                 coordinate_transformation_mode: str = "half_pixel", mode: str = "avg",
                 output_height: int = 1, output_width: int = 1, sampling_ratio: int = 0,
                 spatial_scale: float = 1.0, ctx: EmitContext) -> Any:
    """RoiAlign-16/22: adds coordinate_transformation_mode (half_pixel by default)."""
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise UnsupportedOpError(LAYER, "RoiAlign", hint="coordinate_transformation_mode must be "
                                 "half_pixel or output_half_pixel, got "
                                 f"{coordinate_transformation_mode!r}")
    return _roi_align(X, rois, batch_indices, mode, output_height, output_width, sampling_ratio,
                      spatial_scale, coordinate_transformation_mode == "half_pixel", ctx)
