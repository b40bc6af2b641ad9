"""Normalisation emitters (BatchNormalization, InstanceNormalization, LayerNormalization,
GroupNormalization, RMSNormalization, LRN, MeanVarianceNormalization, LpNormalization) and
Dropout.

Statistics are computed in float32 for the half types (float64 stays float64; stash_type
where the op has one) and results cast back, as the runtime kernels do. All of these work
in NC[spatial] directly: no layout change is needed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.registry import emits, out_dtype
from tensorbridge.ir.axis_math import norm_axes, norm_axis
from tensorbridge.ir.dtypes import DType


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _work(x: Any) -> Any:
    """x in its computation type: float32 for the narrow floats, else unchanged."""
    return tf.cast(x, tf.float32) if x.dtype in (tf.float16, tf.bfloat16) else x


def _stash(x: Any, stash_type: int) -> Any:
    """x in the stash type (never narrower than float32)."""
    dt = tf_dtype(DType(stash_type))
    return tf.cast(x, dt if dt.size >= 4 else tf.float32)


def _channel(v: Any, rank: int, dtype: Any) -> Any:
    """A per-channel vector shaped to broadcast over NC[spatial]."""
    return tf.reshape(tf.cast(v, dtype), [-1, *([1] * (rank - 2))])


def _moments(x: Any, axes: Sequence[int]) -> tuple[Any, Any, Any]:
    """(mean, variance, x - mean) over ``axes``, the statistics keeping their axes.

    Not ``tf.nn.moments``: with oneDNN on (TensorFlow's CPU default), grappler's remapper
    recognises its SquaredDifference form followed by ``* rsqrt(var + eps) * gamma + beta``
    when the normalised tensor is one row of static shape (a batch-1 2-D input, a pooled
    feature vector, a one-token sequence) and substitutes ``_MklLayerNorm`` at Keras'
    default epsilon 1e-3, not the node's (1e-2 to 4e-1 off after a LayerNorm with 1e-5).
    The centred difference is computed once and reused: no remapper pattern (TF 2.21)
    matches that, and with two consumers grappler does not fuse Sub + Square back into
    SquaredDifference. tests/converters/test_migrate_numerics.py pins it."""
    mean = tf.reduce_mean(x, axis=list(axes), keepdims=True)
    centred = x - mean
    var = tf.reduce_mean(centred * centred, axis=list(axes), keepdims=True)
    return mean, var, centred


def _standardize(x: Any, axes: Sequence[int], epsilon: float) -> tuple[Any, Any, Any]:
    """((x - mean) * inv_std, mean, inv_std) over ``axes`` (statistics keep their axes)."""
    mean, var, centred = _moments(x, axes)
    inv = tf.math.rsqrt(var + tf.cast(epsilon, x.dtype))
    return centred * inv, mean, inv


# ------------------------------------------------------------------------------ batch norm


def _bn_stat(v: Any, x: Any, spatial: int) -> Any:
    """A statistic shaped per channel, or per activation for the legacy spatial=0 mode."""
    v = tf.cast(v, x.dtype)
    return _channel(v, x.shape.rank, x.dtype) if spatial else tf.reshape(v, tf.shape(x)[1:])


def _bn_inference(X: Any, scale: Any, B: Any, mean: Any, var: Any, epsilon: float,
                  spatial: int = 1) -> Any:
    x = _work(X)
    s, b, m, v = (_bn_stat(t, x, spatial) for t in (scale, B, mean, var))
    a = s * tf.math.rsqrt(v + tf.cast(epsilon, x.dtype))
    return tf.cast(x * a + (b - m * a), X.dtype)


def _bn_training(X: Any, scale: Any, B: Any, mean: Any, var: Any, epsilon: float,
                 momentum: float, spatial: int = 1) -> tuple[Any, ...]:
    """Normalise with the batch statistics; returns (Y, running_mean, running_var,
    batch_mean, batch_var) with the running values blended by ``momentum``."""
    x = _work(X)
    axes = [0] if not spatial else [0, *range(2, x.shape.rank)]
    bm, bv, centred = _moments(x, axes)
    s, b = (_bn_stat(t, x, spatial) for t in (scale, B))
    y = tf.cast(s * centred * tf.math.rsqrt(bv + tf.cast(epsilon, x.dtype)) + b, X.dtype)
    bm, bv = tf.reshape(bm, tf.shape(mean)), tf.reshape(bv, tf.shape(var))
    run_m = tf.cast(tf.cast(mean, x.dtype) * momentum + bm * (1 - momentum), mean.dtype)
    run_v = tf.cast(tf.cast(var, x.dtype) * momentum + bv * (1 - momentum), var.dtype)
    return y, run_m, run_v, tf.cast(bm, mean.dtype), tf.cast(bv, var.dtype)


def _bn_legacy(X: Any, scale: Any, B: Any, mean: Any, var: Any, epsilon: float,
               momentum: float, spatial: int, training: bool, ctx: EmitContext) -> Any:
    """Opsets 1-9: the mode is given by how many outputs the node asks for."""
    if ctx.n_outputs < 2:
        return _bn_inference(X, scale, B, mean, var, epsilon, spatial)
    if not training:  # is_test with statistics outputs wired: they pass through
        y = _bn_inference(X, scale, B, mean, var, epsilon, spatial)
        return (y, mean, var, mean, var)[:ctx.n_outputs]
    return _bn_training(X, scale, B, mean, var, epsilon, momentum, spatial)[:ctx.n_outputs]


@emits("BatchNormalization", since=1)
def batch_normalization_1(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                          consumed_inputs: tuple[int, ...] | None = None,
                          epsilon: float = 1e-5, is_test: int = 0, momentum: float = 0.9,
                          spatial: int = 1, ctx: EmitContext) -> Any:
    """BatchNormalization-1/6: training unless is_test, and only with the extra outputs
    (1's legacy consumed_inputs is ignored)."""
    return _bn_legacy(X, scale, B, mean, var, epsilon, momentum, spatial, not is_test, ctx)


@emits("BatchNormalization", since=7)
def batch_normalization_7(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                          epsilon: float = 1e-5, momentum: float = 0.9, spatial: int = 1,
                          ctx: EmitContext) -> Any:
    """BatchNormalization-7: training iff the extra outputs are requested."""
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
    """BatchNormalization-14/15: Y[, running_mean, running_var] (extra outputs in training)."""
    if not training_mode:
        return _bn_inference(X, scale, B, input_mean, input_var, epsilon)
    out = _bn_training(X, scale, B, input_mean, input_var, epsilon, momentum)
    return out[:3] if ctx.n_outputs > 1 else out[0]


# --------------------------------------------------------------------- instance/layer/group


@emits("InstanceNormalization", since=1)
def instance_normalization(input: Any, scale: Any, B: Any, *,
                           consumed_inputs: tuple[int, ...] | None = None,
                           epsilon: float = 1e-5) -> Any:
    """InstanceNormalization-1/6/22: per (n, c) standardisation over the spatial axes, then
    scale * y + B per channel (1's legacy consumed_inputs is ignored)."""
    x = _work(input)
    rank = x.shape.rank
    y, _, _ = _standardize(x, range(2, rank), epsilon)
    y = y * _channel(scale, rank, x.dtype) + _channel(B, rank, x.dtype)
    return tf.cast(y, input.dtype)


@emits("LayerNormalization", since=17)
def layer_normalization(X: Any, Scale: Any, B: Any = None, *, axis: int = -1,
                        epsilon: float = 1e-5, stash_type: int = 1, ctx: EmitContext) -> Any:
    """LayerNormalization-17: standardise over axes [axis, rank) -> Y[, Mean, InvStdDev]."""
    rank = X.shape.rank
    axis = norm_axis(axis, rank, "LayerNormalization")
    y, mean, inv = _standardize(_stash(X, stash_type), range(axis, rank), epsilon)
    y = tf.cast(y, X.dtype) * Scale
    if B is not None:
        y = y + B
    if ctx.n_outputs < 2:
        return y
    stats = [tf.cast(v, out_dtype(ctx, i + 1) or tf_dtype(DType(stash_type)))
             for i, v in enumerate((mean, inv))]
    return (y, *stats)[:ctx.n_outputs]


def _num_groups(num_groups: int | None) -> int:
    if num_groups is None:
        raise ValueError("GroupNormalization: the num_groups attribute is required")
    return num_groups


def _group_norm(X: Any, num_groups: int, epsilon: float, x: Any) -> Any:
    """Standardise ``x`` (X in its work type) over each group of channels."""
    shape = tf.shape(x)
    g = tf.reshape(x, tf.stack([shape[0], num_groups, -1]))
    y, _, _ = _standardize(g, [2], epsilon)
    return tf.reshape(y, shape)


@emits("GroupNormalization", since=18)
def group_normalization_18(X: Any, scale: Any, bias: Any, *, epsilon: float = 1e-5,
                           num_groups: int | None = None) -> Any:
    """GroupNormalization-18: scale and bias have one value per *group*."""
    groups = _num_groups(num_groups)
    rank = X.shape.rank
    y = tf.cast(_group_norm(X, groups, epsilon, _work(X)), X.dtype)
    per = tf.shape(X)[1] // groups
    s, b = (tf.repeat(tf.cast(v, X.dtype), per) for v in (scale, bias))
    return y * _channel(s, rank, X.dtype) + _channel(b, rank, X.dtype)


@emits("GroupNormalization", since=21)
def group_normalization_21(X: Any, scale: Any, bias: Any, *, epsilon: float = 1e-5,
                           num_groups: int | None = None, stash_type: int = 1) -> Any:
    """GroupNormalization-21: scale and bias have one value per *channel*; stage one runs
    in stash_type."""
    rank = X.shape.rank
    y = tf.cast(_group_norm(X, _num_groups(num_groups), epsilon, _stash(X, stash_type)), X.dtype)
    return y * _channel(scale, rank, X.dtype) + _channel(bias, rank, X.dtype)


@emits("RMSNormalization", since=23)
def rms_normalization(X: Any, scale: Any, *, axis: int = -1, epsilon: float = 1e-5,
                      stash_type: int = 1) -> Any:
    """RMSNormalization-23: X / sqrt(mean(X^2 over [axis, rank)) + eps) * scale."""
    rank = X.shape.rank
    x = _stash(X, stash_type)
    ms = tf.reduce_mean(tf.square(x), axis=list(range(norm_axis(axis, rank, "RMSNormalization"), rank)),
                        keepdims=True)
    y = tf.cast(x * tf.math.rsqrt(ms + tf.cast(epsilon, x.dtype)), X.dtype)
    return tf.cast(y * tf.cast(scale, X.dtype), scale.dtype)


# ------------------------------------------------------------------------ LRN / MVN / Lp


@emits("LRN", since=1)
def lrn(X: Any, *, alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0,
        size: int | None = None) -> Any:
    """LRN-1/13: X / (bias + alpha / size * sum of squares over a channel window) ** beta.
    (tf.nn.local_response_normalization only has symmetric windows over the last axis.)"""
    if size is None or size < 1:
        raise ValueError(f"LRN: size must be a positive int, got {size}")
    x = _work(X)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = tf.pad(tf.square(x), [[0, 0], [lo, hi]] + [[0, 0]] * (x.shape.rank - 2))
    c = tf.shape(x)[1]
    acc = tf.add_n([sq[:, t:t + c] for t in range(size)]) if size > 1 else sq
    acc = acc * (alpha / size) + bias
    return tf.cast(x / tf.pow(acc, beta), X.dtype)


@emits("MeanVarianceNormalization", since=9)
def mean_variance_normalization(X: Any, *, axes: tuple[int, ...] = (0, 2, 3)) -> Any:
    """MeanVarianceNormalization-9/13: (X - E[X]) / (sqrt(Var[X]) + 1e-9) over ``axes``."""
    x = _work(X)
    _, var, centred = _moments(x, norm_axes(axes, x.shape.rank, "MeanVarianceNormalization"))
    # 1e-9 is the epsilon of the op's function body
    return tf.cast(centred / (tf.sqrt(var) + 1e-9), X.dtype)


@emits("LpNormalization", since=1)
def lp_normalization(input: Any, *, axis: int = -1, p: int = 2) -> Any:
    """LpNormalization-1/22: input / ||input||_p along axis (p is 1 or 2; zero norms give 0)."""
    _require(p in (1, 2), f"LpNormalization: p must be 1 or 2, got {p}")
    x = _work(input)
    if p == 1:
        norm = tf.reduce_sum(tf.abs(x), axis=axis, keepdims=True)
    else:
        norm = tf.norm(x, axis=axis, keepdims=True)
    return tf.cast(tf.math.divide_no_nan(x, norm), input.dtype)


# -------------------------------------------------------------------------------- dropout


def _inference_dropout(data: Any, mask_dtype: Any, ctx: EmitContext) -> Any:
    if ctx.n_outputs < 2:
        return tf.identity(data)
    return tf.identity(data), tf.ones_like(data, dtype=mask_dtype)


def _keep_mask(data: Any, ratio: Any, seed: int | None) -> Any:
    """Which cells survive a training dropout of ``ratio``. With a seed, the mask is numpy's
    seeded MT19937 stream (the convention the runtime and the ONNX conformance data follow),
    fixed at trace time; without one it is drawn on every call."""
    if seed is not None and data.shape.is_fully_defined():
        uniform = np.random.RandomState(seed).uniform(0.0, 1.0, data.shape.as_list())
        return tf.constant(uniform, tf.float64) >= tf.cast(ratio, tf.float64)
    return tf.random.uniform(tf.shape(data), dtype=tf.float32) >= tf.cast(ratio, tf.float32)


def _training_dropout(data: Any, ratio: Any, training: Any, seed: int | None,
                      mask_dtype: Any, ctx: EmitContext) -> Any:
    """data * mask / (1 - ratio) where ``training`` (a bool tensor) holds, else identity."""
    ratio = tf.cast(0.5 if ratio is None else ratio, tf.float32)
    training = tf.cast(training, tf.bool)
    keep = tf.logical_or(tf.logical_not(training), _keep_mask(data, ratio, seed))
    scale = tf.where(training, 1.0 / (1.0 - ratio), 1.0)
    out = tf.where(keep, data * tf.cast(scale, data.dtype), tf.zeros_like(data))
    if ctx.n_outputs < 2:
        return out
    return out, tf.cast(keep, mask_dtype)


@emits("Dropout", since=1)
def dropout_1(data: Any, *, consumed_inputs: tuple[int, ...] | None = None, is_test: int = 0,
              ratio: float = 0.5, ctx: EmitContext) -> Any:
    """Dropout-1/6: random dropout unless is_test; the mask has data's dtype (1's legacy
    consumed_inputs is ignored)."""
    if is_test:
        return _inference_dropout(data, data.dtype, ctx)
    return _training_dropout(data, ratio, True, None, data.dtype, ctx)


@emits("Dropout", since=7)
def dropout_7(data: Any, *, ratio: float = 0.5, ctx: EmitContext) -> Any:
    """Dropout-7: an inference graph is always in test mode (identity); the mask has
    data's dtype."""
    return _inference_dropout(data, data.dtype, ctx)


@emits("Dropout", since=10)
def dropout_10(data: Any, *, ratio: float = 0.5, ctx: EmitContext) -> Any:
    """Dropout-10: identity at inference; the mask becomes bool."""
    return _inference_dropout(data, tf.bool, ctx)


@emits("Dropout", since=12)
def dropout_12(data: Any, ratio: Any = None, training_mode: Any = None, *,
               seed: int | None = None, ctx: EmitContext) -> Any:
    """Dropout-12/13/22: ratio and training_mode become inputs; training_mode may be a
    runtime value, so both modes are in the graph."""
    if training_mode is None:
        return _inference_dropout(data, tf.bool, ctx)
    return _training_dropout(data, ratio, training_mode, seed, tf.bool, ctx)
