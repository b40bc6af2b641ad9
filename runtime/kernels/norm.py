"""Kernels: normalisation layers (BatchNormalization, InstanceNormalization,
LayerNormalization, GroupNormalization, RMSNormalization, LRN, MeanVarianceNormalization,
LpNormalization) and Dropout.

Statistics are computed in float32 (float64 for float64 inputs, or the ``stash_type``
where the op has one) and results are cast back to the input's dtype. Inference-time
BatchNormalization folds its four vectors into one scale and one shift first, so the
tensor is touched by exactly one multiply and one add.
"""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.axis_math import norm_axes, norm_axis
from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.kernels._spatial import compute_dtype
from tensorbridge.runtime.registry import KernelContext, kernel

# ----------------------------------------------------------------------------- batch norm


def _per_channel(v: np.ndarray, x: np.ndarray, spatial: int, dtype: np.dtype) -> np.ndarray:
    """Shape a BatchNormalization statistic to broadcast against x: per channel, or, for
    the legacy spatial=0 mode, per activation (C, D1, ..., Dn)."""
    v = np.asarray(v).astype(dtype, copy=False)
    if spatial:
        return v.reshape(-1, *([1] * (x.ndim - 2)))
    return v.reshape(x.shape[1:])


def _bn_apply(x: np.ndarray, scale: np.ndarray, B: np.ndarray, mean: np.ndarray,
              var: np.ndarray, epsilon: float) -> np.ndarray:
    """scale * (x - mean) / sqrt(var + eps) + B, folded into one multiply-add."""
    a = scale / np.sqrt(var + np.asarray(epsilon, dtype=var.dtype))
    y = x * a
    y += B - mean * a
    return y


def _bn_stats_axes(x: np.ndarray, spatial: int) -> tuple[int, ...]:
    return (0,) if not spatial else (0, *range(2, x.ndim))


def _bn_inference(X: np.ndarray, scale: np.ndarray, B: np.ndarray, mean: np.ndarray,
                  var: np.ndarray, epsilon: float, spatial: int = 1) -> np.ndarray:
    ct = compute_dtype(X.dtype)
    x = X.astype(ct, copy=False)
    s, b, m, v = (_per_channel(t, x, spatial, ct) for t in (scale, B, mean, var))
    return _bn_apply(x, s, b, m, v, epsilon).astype(X.dtype, copy=False)


def _bn_training(X: np.ndarray, scale: np.ndarray, B: np.ndarray, mean: np.ndarray,
                 var: np.ndarray, epsilon: float, momentum: float,
                 spatial: int = 1) -> tuple[np.ndarray, ...]:
    """Normalise with the batch statistics; returns (Y, running_mean, running_var,
    batch_mean, batch_var) with the running values blended by ``momentum``."""
    ct = compute_dtype(X.dtype)
    x = X.astype(ct, copy=False)
    axes = _bn_stats_axes(x, spatial)
    bm = x.mean(axis=axes, keepdims=True)
    bv = x.var(axis=axes, keepdims=True)
    s, b = (_per_channel(t, x, spatial, ct) for t in (scale, B))
    y = _bn_apply(x, s, b, bm, bv, epsilon).astype(X.dtype, copy=False)
    stat_t = np.asarray(mean).dtype
    bm, bv = bm.reshape(np.shape(mean)), bv.reshape(np.shape(var))
    run_m = (mean.astype(ct) * momentum + bm * (1 - momentum)).astype(stat_t)
    run_v = (var.astype(ct) * momentum + bv * (1 - momentum)).astype(stat_t)
    return y, run_m, run_v, bm.astype(stat_t), bv.astype(stat_t)


def _bn_legacy(X: np.ndarray, scale: np.ndarray, B: np.ndarray, mean: np.ndarray,
               var: np.ndarray, epsilon: float, momentum: float, spatial: int,
               training: bool, ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    """Opsets 1-9: the mode is given by how many outputs the node asks for."""
    if ctx.n_outputs < 2:
        return _bn_inference(X, scale, B, mean, var, epsilon, spatial)
    if not training:
        # is_test=1 with statistics outputs wired: nothing is learned, so the running
        # statistics pass through unchanged.
        y = _bn_inference(X, scale, B, mean, var, epsilon, spatial)
        return (y, mean, var, mean, var)[:ctx.n_outputs]
    return _bn_training(X, scale, B, mean, var, epsilon, momentum, spatial)[:ctx.n_outputs]


@kernel("BatchNormalization", since=1)
def batch_normalization_1(X: np.ndarray, scale: np.ndarray, B: np.ndarray, mean: np.ndarray,
                          var: np.ndarray, *, consumed_inputs: list[int] | None = None,
                          epsilon: float = 1e-5, is_test: int = 0, momentum: float = 0.9,
                          spatial: int = 1,
                          ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    """BatchNormalization-1/6/7/9: Y[, mean, var, saved_mean, saved_var]; training only when
    the extra outputs are requested and not is_test. Later versions dropped attributes
    whose defaults they keep: consumed_inputs (7, ignored), is_test (7, 0), spatial (9, 1).
    BatchNormalization-14 changed the training outputs, so it has its own kernel."""
    return _bn_legacy(X, scale, B, mean, var, epsilon, momentum, spatial, not is_test, ctx)


@kernel("BatchNormalization", since=14)
def batch_normalization_14(X: np.ndarray, scale: np.ndarray, B: np.ndarray,
                           input_mean: np.ndarray, input_var: np.ndarray, *,
                           epsilon: float = 1e-5, momentum: float = 0.9,
                           training_mode: int = 0,
                           ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    """BatchNormalization-14/15: Y[, running_mean, running_var] (extra outputs in training)."""
    if not training_mode:
        if ctx.n_outputs > 1:
            raise ValueError("BatchNormalization: running_mean/running_var outputs are only "
                             "valid with training_mode=1")
        return _bn_inference(X, scale, B, input_mean, input_var, epsilon)
    out = _bn_training(X, scale, B, input_mean, input_var, epsilon, momentum)
    return out[:3] if ctx.n_outputs > 1 else out[0]


# ------------------------------------------------------------------- instance/layer/group


# Rows up to this length are averaged with BLAS (float accumulation in a few SIMD lanes is
# as accurate as numpy's pairwise sum at this size); longer rows use the pairwise sum.
_BLAS_ROW_MEAN = 8192


def _standardize(x: np.ndarray, axes: tuple[int, ...], epsilon: float, *, overwrite: bool = False,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x - mean) / sqrt(var + eps) over ``axes``; also returns mean and 1/std (keepdims).
    ``overwrite``: ``x`` is a scratch buffer of the caller's, standardised in place."""
    keep = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    if axes == tuple(range(x.ndim - len(axes), x.ndim)) and x.size:
        # trailing axes (LayerNormalization's case): reduce rows of a 2-D view, which
        # numpy does much faster than a multi-axis keepdims reduction
        rows = x.reshape(-1, int(np.prod(x.shape[x.ndim - len(axes):], dtype=np.int64)))
        inv_n = 1.0 / rows.shape[1]
        if rows.dtype in (np.float32, np.float64) and rows.shape[1] <= _BLAS_ROW_MEAN:
            # row means as one matrix-vector product (BLAS, ~4x faster than a row-wise
            # reduction), already divided by n: a transformer's LayerNorm runs this per token
            weights = np.full(rows.shape[1], inv_n, rows.dtype)
            mean = (rows @ weights)[:, None]
            d = np.subtract(rows, mean, out=rows if overwrite else None)
            var = (np.multiply(d, d) @ weights)[:, None]
            inv_n = 1.0
        else:
            mean = np.add.reduce(rows, axis=1, keepdims=True)
            mean *= inv_n
            d = rows - mean
            var = np.add.reduce(d * d, axis=1, keepdims=True)
    else:
        inv_n = 1.0
        mean = x.mean(axis=axes, keepdims=True)
        d = x - mean
        var = np.mean(d * d, axis=axes, keepdims=True)
    var *= inv_n
    var += np.asarray(epsilon, dtype=var.dtype)
    inv = np.sqrt(var, out=var)
    np.divide(1, inv, out=inv)
    d *= inv
    return d.reshape(x.shape), mean.reshape(keep), inv.reshape(keep)


@kernel("InstanceNormalization", since=1)
def instance_normalization(input: np.ndarray, scale: np.ndarray, B: np.ndarray, *,
                           consumed_inputs: list[int] | None = None,
                           epsilon: float = 1e-5) -> np.ndarray:
    """InstanceNormalization-1/6/22: per (n, c) standardisation over spatial axes, then
    scale * y + B per channel (InstanceNormalization-1's legacy consumed_inputs is ignored)."""
    if input.ndim < 3:
        raise ValueError(f"InstanceNormalization: input must be (N, C, D1, ...), got {input.shape}")
    ct = compute_dtype(input.dtype)
    y, _, _ = _standardize(input.astype(ct, copy=False), tuple(range(2, input.ndim)), epsilon)
    ones = [1] * (input.ndim - 2)
    y *= scale.astype(ct, copy=False).reshape(-1, *ones)
    y += B.astype(ct, copy=False).reshape(-1, *ones)
    return y.astype(input.dtype, copy=False)


def _stash_dtype(stash_type: int, op: str) -> np.dtype:
    """The precision of stage one; narrow floats are computed in float32 (numpy has no
    fast bfloat16/float16 math) and only the stashed outputs use the narrow type."""
    try:
        dt = DType(stash_type).np_dtype
    except ValueError as e:
        raise ValueError(f"{op}: stash_type {stash_type} is not a known element type") from e
    if dt.kind != "f" and not DType(stash_type).is_float:
        raise ValueError(f"{op}: stash_type must be a float type, got {DType(stash_type).name}")
    return dt


@kernel("LayerNormalization", since=17)
def layer_normalization(X: np.ndarray, Scale: np.ndarray, B: np.ndarray | None = None, *,
                        axis: int = -1, epsilon: float = 1e-5, stash_type: int = 1,
                        ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    """LayerNormalization-17: standardise over axes [axis, rank) -> Y[, Mean, InvStdDev]."""
    return layer_norm(X, Scale, B, axis=axis, epsilon=epsilon, stash_type=stash_type, n_outputs=ctx.n_outputs)


def layer_norm(X: np.ndarray, Scale: np.ndarray, B: np.ndarray | None = None, *, axis: int = -1,
               epsilon: float = 1e-5, stash_type: int = 1, n_outputs: int = 1,
               overwrite: bool = False) -> np.ndarray | tuple[np.ndarray, ...]:
    """LayerNormalization's computation; ``overwrite``: X is a scratch buffer it may reuse
    (the runtime's Add + LayerNormalization fusion)."""
    r = X.ndim
    axis = norm_axis(axis, r, "LayerNormalization")
    stash = _stash_dtype(stash_type, "LayerNormalization")
    work = stash if stash.itemsize >= 4 else np.dtype(np.float32)
    xw = X.astype(work, copy=False)
    y, mean, inv = _standardize(xw, tuple(range(axis, r)), epsilon, overwrite=overwrite and xw is X)
    y = y.astype(X.dtype, copy=False)
    if np.result_type(y, Scale) == y.dtype and np.broadcast_shapes(y.shape, Scale.shape) == y.shape:
        y *= Scale  # y is ours (fresh from _standardize): scale and shift it in place
    else:
        y = y * Scale
    if B is not None:
        y += B
    y = y.astype(X.dtype, copy=False)
    if n_outputs < 2:
        return y
    return (y, mean.astype(stash), inv.astype(stash))[:n_outputs]


def _group_norm(X: np.ndarray, num_groups: int, epsilon: float, work: np.dtype) -> np.ndarray:
    n, c = X.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"GroupNormalization: {c} channels cannot form {num_groups} groups")
    x = X.astype(work, copy=False).reshape(n, num_groups, -1)
    y, _, _ = _standardize(x, (2,), epsilon)
    return y.reshape(X.shape)


def _scale_shift(y: np.ndarray, scale: np.ndarray, bias: np.ndarray, X: np.ndarray) -> np.ndarray:
    ones = [1] * (X.ndim - 2)
    y = y.astype(X.dtype, copy=False)
    y = y * scale.astype(X.dtype, copy=False).reshape(-1, *ones)
    y += bias.astype(X.dtype, copy=False).reshape(-1, *ones)
    return y


@kernel("GroupNormalization", since=18)
def group_normalization_18(X: np.ndarray, scale: np.ndarray, bias: np.ndarray, *,
                           epsilon: float = 1e-5, num_groups: int | None = None) -> np.ndarray:
    """GroupNormalization-18: scale and bias have one value per *group*."""
    if num_groups is None:
        raise ValueError("GroupNormalization: the num_groups attribute is required")
    if scale.shape != (num_groups,) or bias.shape != (num_groups,):
        raise ValueError(f"GroupNormalization-18: scale and bias must have shape ({num_groups},)"
                         f", got {scale.shape} and {bias.shape}")
    y = _group_norm(X, num_groups, epsilon, compute_dtype(X.dtype))
    per = X.shape[1] // num_groups
    return _scale_shift(y, np.repeat(scale, per), np.repeat(bias, per), X)


@kernel("GroupNormalization", since=21)
def group_normalization_21(X: np.ndarray, scale: np.ndarray, bias: np.ndarray, *,
                           epsilon: float = 1e-5, num_groups: int | None = None,
                           stash_type: int = 1) -> np.ndarray:
    """GroupNormalization-21: scale and bias have one value per *channel*; stage one runs
    in stash_type."""
    if num_groups is None:
        raise ValueError("GroupNormalization: the num_groups attribute is required")
    c = X.shape[1]
    if scale.shape != (c,) or bias.shape != (c,):
        raise ValueError(f"GroupNormalization-21: scale and bias must have shape ({c},), got "
                         f"{scale.shape} and {bias.shape}")
    stash = _stash_dtype(stash_type, "GroupNormalization")
    work = stash if stash.itemsize >= 4 else np.dtype(np.float32)
    return _scale_shift(_group_norm(X, num_groups, epsilon, work), scale, bias, X)


@kernel("RMSNormalization", since=23)
def rms_normalization(X: np.ndarray, scale: np.ndarray, *, axis: int = -1,
                      epsilon: float = 1e-5, stash_type: int = 1) -> np.ndarray:
    """RMSNormalization-23: X / sqrt(mean(X^2 over [axis, rank)) + eps) * scale."""
    r = X.ndim
    axis = norm_axis(axis, r, "RMSNormalization")
    stash = _stash_dtype(stash_type, "RMSNormalization")
    work = stash if stash.itemsize >= 4 else np.dtype(np.float32)
    x = X.astype(work, copy=False)
    ms = np.mean(x * x, axis=tuple(range(axis, r)), keepdims=True)
    y = (x / np.sqrt(ms + np.asarray(epsilon, dtype=work))).astype(X.dtype, copy=False)
    return (y * scale).astype(scale.dtype, copy=False)


# --------------------------------------------------------------------- LRN / MVN / Lp


@kernel("LRN", since=1)
def lrn(X: np.ndarray, *, alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0,
        size: int | None = None) -> np.ndarray:
    """LRN-1/13: X / (bias + alpha / size * sum of squares over a channel window) ** beta."""
    if size is None or size < 1:
        raise ValueError(f"LRN: size must be a positive int, got {size}")
    if X.ndim < 2:
        raise ValueError(f"LRN: X must be (N, C, ...), got {X.shape}")
    ct = compute_dtype(X.dtype)
    x = X.astype(ct, copy=False)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.zeros((x.shape[0], x.shape[1] + lo + hi, *x.shape[2:]), dtype=ct)
    np.square(x, out=sq[:, lo:lo + x.shape[1]])
    acc = sq[:, :x.shape[1]].copy()
    for t in range(1, size):  # the window is a few channels wide
        acc += sq[:, t:t + x.shape[1]]
    acc *= ct.type(alpha / size)
    acc += ct.type(bias)
    return (x / acc ** ct.type(beta)).astype(X.dtype, copy=False)


@kernel("MeanVarianceNormalization", since=9)
def mean_variance_normalization(X: np.ndarray, *, axes: list[int] | None = None) -> np.ndarray:
    """MeanVarianceNormalization-9/13: (X - E[X]) / (sqrt(Var[X]) + 1e-9) over ``axes``."""
    axes = [0, 2, 3] if axes is None else axes
    ct = compute_dtype(X.dtype)
    x = X.astype(ct, copy=False)
    ax = tuple(norm_axes(axes, X.ndim, "MeanVarianceNormalization"))
    mean = x.mean(axis=ax, keepdims=True)
    d = x - mean
    std = np.sqrt(np.mean(d * d, axis=ax, keepdims=True))
    d /= std + ct.type(1e-9)  # the epsilon of the op's function body
    return d.astype(X.dtype, copy=False)


@kernel("LpNormalization", since=1)
def lp_normalization(input: np.ndarray, *, axis: int = -1, p: int = 2) -> np.ndarray:
    """LpNormalization-1/22: input / ||input||_p along axis (p is 1 or 2; zero norms give 0)."""
    if p not in (1, 2):
        raise ValueError(f"LpNormalization: p must be 1 or 2, got {p}")
    ct = compute_dtype(input.dtype)
    x = input.astype(ct, copy=False)
    if p == 1:
        norm = np.abs(x).sum(axis=axis, keepdims=True)
    else:
        norm = np.sqrt((x * x).sum(axis=axis, keepdims=True))
    out = np.divide(x, norm, out=np.zeros_like(x), where=norm != 0)
    return out.astype(input.dtype, copy=False)


# ---------------------------------------------------------------------------- dropout


def _dropout_train(data: np.ndarray, ratio: float, rng: np.random.Generator | np.random.RandomState,
                   ) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"Dropout: ratio must be in [0, 1), got {ratio}")
    if ratio == 0.0:
        return data, np.ones(data.shape, dtype=bool)
    uniform = rng.random(data.shape) if isinstance(rng, np.random.Generator) else \
        rng.uniform(0.0, 1.0, data.shape)
    mask = uniform >= ratio
    scale = np.asarray(1.0 / (1.0 - ratio), dtype=data.dtype)
    return (data * mask * scale).astype(data.dtype, copy=False), mask


def _dropout_outputs(out: np.ndarray, mask: np.ndarray | None, data: np.ndarray,
                     mask_dtype: type, ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    if ctx.n_outputs < 2:
        return out
    if mask is None:
        mask = np.ones(data.shape, dtype=mask_dtype)
    return out, mask.astype(mask_dtype, copy=False)


@kernel("Dropout", since=1)
def dropout_1(data: np.ndarray, *, consumed_inputs: list[int] | None = None, is_test: int = 0,
              ratio: float = 0.5, ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    """Dropout-1/6: random dropout unless is_test; the mask has data's dtype (Dropout-1's
    legacy consumed_inputs is ignored). Dropout-7 removed is_test, so it has its own kernel."""
    if is_test:
        return _dropout_outputs(data, None, data, data.dtype.type, ctx)
    out, mask = _dropout_train(data, ratio, ctx.rng)
    return _dropout_outputs(out, mask, data, data.dtype.type, ctx)


@kernel("Dropout", since=7)
def dropout_7(data: np.ndarray, *, ratio: float = 0.5,
              ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    """Dropout-7: is_test removed; an inference runtime is always in test mode (identity).
    The mask has data's dtype."""
    return _dropout_outputs(data, None, data, data.dtype.type, ctx)


@kernel("Dropout", since=10)
def dropout_10(data: np.ndarray, *, ratio: float = 0.5,
               ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    """Dropout-10: identity at inference; the mask becomes bool."""
    return _dropout_outputs(data, None, data, np.bool_, ctx)


@kernel("Dropout", since=12)
def dropout_12(data: np.ndarray, ratio: np.ndarray | None = None,
               training_mode: np.ndarray | None = None, *, seed: int | None = None,
               ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, ...]:
    """Dropout-12/13/22: ratio and training_mode become inputs; output = data * mask / (1 - ratio)
    in training, identity otherwise.

    With a ``seed`` the mask comes from numpy's seeded MT19937 stream (the convention the
    ONNX conformance data follows), so a seeded node is reproducible; without one it
    comes from the session's generator.
    """
    if training_mode is None or not bool(np.asarray(training_mode)):
        return _dropout_outputs(data, None, data, np.bool_, ctx)
    r = 0.5 if ratio is None else float(np.asarray(ratio))
    rng = np.random.RandomState(seed) if seed is not None else ctx.rng
    out, mask = _dropout_train(data, r, rng)
    return _dropout_outputs(out, mask, data, np.bool_, ctx)
