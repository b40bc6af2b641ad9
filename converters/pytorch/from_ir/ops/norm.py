"""Normalisation and Dropout emitters (BatchNormalization, InstanceNormalization,
LayerNormalization, GroupNormalization, RMSNormalization, LRN, MeanVarianceNormalization,
LpNormalization, Dropout).

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
from tensorbridge.converters.pytorch.from_ir.ops.cast import (
    dtype_of,
    work_dtype,
)
from tensorbridge.converters.pytorch.from_ir.ops.shape import info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"


def _stash(stash_type: int) -> torch.dtype:
    """The precision of the statistics: stash_type, never below float32."""
    return work_dtype(torch_dtype(DType(stash_type)))


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
    """BatchNormalization-1/6/7/9: Y[, mean, var, saved_mean, saved_var]; training only when
    the extra outputs are requested and not is_test. Later versions dropped attributes
    whose defaults they keep: consumed_inputs (6, ignored), is_test (7, 0), spatial (9, 1).
    BatchNormalization-14 changed the training outputs, so it has its own emitter."""
    return _bn_legacy(X, scale, B, mean, var, epsilon, momentum, spatial, not is_test, ctx)


# Separate: 14 replaced is_test/spatial by training_mode and cut the training outputs to 3.
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
def instance_normalization(input: Any, scale: Any, B: Any, *,
                           consumed_inputs: tuple[int, ...] | None = None,
                           epsilon: float = 1e-5, ctx: EmitContext | None = None) -> Any:
    """InstanceNormalization-1/6/22: per (n, c) standardisation over spatial axes, then
    scale * y + B per channel (InstanceNormalization-1's legacy consumed_inputs is ignored)."""
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
    axis = norm_axis(axis, r, "LayerNormalization")
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


# Separate: 21 changed scale/bias from one per group to one per channel.
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
    ms = (xs * xs).mean(dim=list(range(norm_axis(axis, r, "RMSNormalization"), r)), keepdim=True)
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
    """Dropout-1/6: random dropout unless is_test; the mask has data's dtype (Dropout-1's
    legacy consumed_inputs is ignored). Dropout-7 removed is_test, so it has its own emitter."""
    return _dropout_legacy(data, is_test, ratio, ctx)


# Separate: 7 removed is_test (always inference), 10 made the mask bool, 12 made ratio
# and training_mode inputs -- each changed what a node means.
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
