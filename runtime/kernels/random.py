"""Kernels: random number generators.

Draws come from ``ctx.rng`` (the session's generator) unless the node carries a ``seed``
attribute, in which case a fresh generator seeded with it makes the node reproducible on its
own. Values are drawn in float64 and cast to the requested element type, which also covers
float16 and bfloat16 (numpy cannot sample those directly).
"""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.registry import KernelContext, kernel


def _generator(seed: float | None, ctx: KernelContext) -> np.random.Generator:
    return ctx.rng if seed is None else np.random.default_rng(int(seed))


def _out_dtype(dtype: int | None, like: np.ndarray | None, op: str) -> np.dtype:
    """The output dtype: the ``dtype`` attribute if given, else the reference input's dtype."""
    if dtype is None:
        if like is None:
            raise ValueError(f"{op} needs a dtype attribute")
        return like.dtype
    try:
        return DType(dtype).np_dtype
    except ValueError as e:
        raise ValueError(f"{op}: dtype attribute {dtype} is not a valid ONNX element type") from e


@kernel("RandomNormal", since=1)
def random_normal(*, shape: list[int], dtype: int = 1, mean: float = 0.0, scale: float = 1.0,
                  seed: float | None = None, ctx: KernelContext) -> np.ndarray:
    """RandomNormal-1: output(shape) ~ N(mean, scale^2)."""
    rng = _generator(seed, ctx)
    return rng.normal(mean, scale, size=tuple(shape)).astype(_out_dtype(dtype, None, "RandomNormal"))


@kernel("RandomUniform", since=1)
def random_uniform(*, shape: list[int], dtype: int = 1, high: float = 1.0, low: float = 0.0,
                   seed: float | None = None, ctx: KernelContext) -> np.ndarray:
    """RandomUniform-1: output(shape) ~ U[low, high)."""
    rng = _generator(seed, ctx)
    return rng.uniform(low, high, size=tuple(shape)).astype(_out_dtype(dtype, None, "RandomUniform"))


@kernel("RandomNormalLike", since=1)
def random_normal_like(input: np.ndarray, *, dtype: int | None = None, mean: float = 0.0,
                       scale: float = 1.0, seed: float | None = None,
                       ctx: KernelContext) -> np.ndarray:
    """RandomNormalLike-1: N(mean, scale^2) samples shaped like ``input``."""
    out = _out_dtype(dtype, input, "RandomNormalLike")
    return _generator(seed, ctx).normal(mean, scale, size=input.shape).astype(out)


@kernel("RandomUniformLike", since=1)
def random_uniform_like(input: np.ndarray, *, dtype: int | None = None, high: float = 1.0,
                        low: float = 0.0, seed: float | None = None,
                        ctx: KernelContext) -> np.ndarray:
    """RandomUniformLike-1: U[low, high) samples shaped like ``input``."""
    out = _out_dtype(dtype, input, "RandomUniformLike")
    return _generator(seed, ctx).uniform(low, high, size=input.shape).astype(out)


@kernel("Bernoulli", since=15)
def bernoulli(input: np.ndarray, *, dtype: int | None = None, seed: float | None = None,
              ctx: KernelContext) -> np.ndarray:
    """Bernoulli-15: output = 1 with probability ``input`` else 0."""
    out = _out_dtype(dtype, input, "Bernoulli")
    u = _generator(seed, ctx).random(size=input.shape)
    return (u < input.astype(np.float64)).astype(out)


@kernel("Multinomial", since=7)
def multinomial(input: np.ndarray, *, dtype: int = 6, sample_size: int = 1,
                seed: float | None = None, ctx: KernelContext) -> np.ndarray:
    """Multinomial-7: input[batch, class] unnormalised log-probs -> output[batch, sample_size]."""
    if input.ndim != 2:
        raise ValueError(f"Multinomial input must be 2-D [batch, class], got shape {input.shape}")
    out = _out_dtype(dtype, None, "Multinomial")
    if out not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise ValueError(f"Multinomial dtype must be int32 or int64, got {out}")
    batch, classes = input.shape
    logits = input.astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    # Offset row i's CDF into [i, i+1] so one searchsorted over the flattened, globally sorted
    # CDFs samples every row at once.
    rows = np.arange(batch, dtype=np.float64)[:, None]
    u = _generator(seed, ctx).random(size=(batch, sample_size)) + rows
    flat = np.searchsorted((cdf + rows).ravel(), u.ravel(), side="right").reshape(batch, sample_size)
    idx = np.minimum(flat - np.arange(batch)[:, None] * classes, classes - 1)
    return idx.astype(out)
