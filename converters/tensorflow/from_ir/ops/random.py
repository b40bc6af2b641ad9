"""Random generator emitters: RandomNormal, RandomUniform, their *Like twins, Bernoulli and
Multinomial.

Without a ``seed`` attribute the draws come from TensorFlow's stateful generators (new values
on every call); with one they come from the stateless ops keyed by ``[seed, 0]``, so a seeded
node gives the same values on every call, as ONNX asks. Neither reproduces numpy's stream
(the runtime's), only the distribution. Values are drawn in float32 (float64 for float64
outputs) and cast, which also covers float16/bfloat16."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType


def _out(dtype: int | None, like: Any, op: str) -> Any:
    """The output dtype: the ``dtype`` attribute if given, else the reference input's."""
    if dtype is None:
        if like is None:
            raise ValueError(f"{op} needs a dtype attribute")
        return like.dtype
    return tf_dtype(DType(dtype))


def _draw_type(out: Any) -> Any:
    return tf.float64 if out == tf.float64 else tf.float32


def _seed(seed: float | None) -> list[int] | None:
    return None if seed is None else [int(seed), 0]


def _normal(shape: Any, out: Any, mean: float, scale: float, seed: float | None) -> Any:
    dt = _draw_type(out)
    if seed is None:
        v = tf.random.normal(shape, mean, scale, dtype=dt)
    else:
        v = tf.random.stateless_normal(shape, _seed(seed), mean, scale, dtype=dt)
    return tf.cast(v, out)


def _uniform(shape: Any, out: Any, low: float, high: float, seed: float | None) -> Any:
    dt = _draw_type(out)
    if seed is None:
        v = tf.random.uniform(shape, low, high, dtype=dt)
    else:
        v = tf.random.stateless_uniform(shape, _seed(seed), low, high, dtype=dt)
    return tf.cast(v, out)


@emits("RandomNormal", since=1)
def random_normal(*, shape: Sequence[int], dtype: int = 1, mean: float = 0.0,
                  scale: float = 1.0, seed: float | None = None) -> Any:
    """RandomNormal-1/22: output(shape) ~ N(mean, scale^2)."""
    return _normal(list(shape), _out(dtype, None, "RandomNormal"), mean, scale, seed)


@emits("RandomUniform", since=1)
def random_uniform(*, shape: Sequence[int], dtype: int = 1, high: float = 1.0,
                   low: float = 0.0, seed: float | None = None) -> Any:
    """RandomUniform-1/22: output(shape) ~ U[low, high)."""
    return _uniform(list(shape), _out(dtype, None, "RandomUniform"), low, high, seed)


@emits("RandomNormalLike", since=1)
def random_normal_like(input: Any, *, dtype: int | None = None, mean: float = 0.0,
                       scale: float = 1.0, seed: float | None = None) -> Any:
    """RandomNormalLike-1/22: N(mean, scale^2) samples shaped like ``input``."""
    return _normal(tf.shape(input), _out(dtype, input, "RandomNormalLike"), mean, scale, seed)


@emits("RandomUniformLike", since=1)
def random_uniform_like(input: Any, *, dtype: int | None = None, high: float = 1.0,
                        low: float = 0.0, seed: float | None = None) -> Any:
    """RandomUniformLike-1/22: U[low, high) samples shaped like ``input``."""
    return _uniform(tf.shape(input), _out(dtype, input, "RandomUniformLike"), low, high, seed)


@emits("Bernoulli", since=15)
def bernoulli(input: Any, *, dtype: int | None = None, seed: float | None = None) -> Any:
    """Bernoulli-15/22: output = 1 with probability ``input`` else 0."""
    out = _out(dtype, input, "Bernoulli")
    p = tf.cast(input, tf.float64)
    u = _uniform(tf.shape(input), tf.float64, 0.0, 1.0, seed)
    return tf.cast(u < p, out)


@emits("Multinomial", since=7)
def multinomial(input: Any, *, dtype: int = 6, sample_size: int = 1,
                seed: float | None = None) -> Any:
    """Multinomial-7/22: input[batch, class] unnormalised log-probs -> [batch, sample_size]
    class indices."""
    out = _out(dtype, None, "Multinomial")
    if out not in (tf.int32, tf.int64):
        raise ValueError(f"Multinomial dtype must be int32 or int64, got {out.name}")
    logits = tf.cast(input, tf.float32) if input.dtype != tf.float64 else input
    if seed is None:
        return tf.random.categorical(logits, sample_size, dtype=out)
    return tf.random.stateless_categorical(logits, sample_size, _seed(seed), dtype=out)
