"""Random generator emitters (RandomNormal, RandomUniform, their *Like forms, Bernoulli,
Multinomial).

Draws come from torch's default generator unless the node carries a ``seed``: then a fresh
``torch.Generator`` seeded with it makes every run of the node give the same values, as
the spec intends. Values never match another framework's generator (numpy's, the
runtime's): only their distribution does. float16/bfloat16 outputs are sampled in float32
and rounded, as the runtime samples in float64 and casts."""

from __future__ import annotations

from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.ops.cast import known_dtype
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"


def _generator(seed: float | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def _sample_dtype(dtype: torch.dtype) -> torch.dtype:
    """Where to draw: float64 for double outputs, float32 for every other type."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _like_dtype(dtype: int | None, input: Any, ctx: EmitContext, op: str) -> torch.dtype:
    return torch_dtype(DType(dtype)) if dtype is not None else known_dtype(ctx, 0, input, op)


@emits("RandomNormal", since=1)
def random_normal(*, shape: tuple[int, ...], dtype: int = 1, mean: float = 0.0,
                  scale: float = 1.0, seed: float | None = None) -> Any:
    """RandomNormal-1/22: output(shape) ~ N(mean, scale^2)."""
    out = torch_dtype(DType(dtype))
    z = torch.randn(list(shape), generator=_generator(seed), dtype=_sample_dtype(out))
    return (z * scale + mean).to(out)


@emits("RandomUniform", since=1)
def random_uniform(*, shape: tuple[int, ...], dtype: int = 1, high: float = 1.0,
                   low: float = 0.0, seed: float | None = None) -> Any:
    """RandomUniform-1/22: output(shape) ~ U[low, high)."""
    out = torch_dtype(DType(dtype))
    u = torch.rand(list(shape), generator=_generator(seed), dtype=_sample_dtype(out))
    return (u * (high - low) + low).to(out)


@emits("RandomNormalLike", since=1)
def random_normal_like(input: Any, *, dtype: int | None = None, mean: float = 0.0,
                       scale: float = 1.0, seed: float | None = None,
                       ctx: EmitContext) -> Any:
    """RandomNormalLike-1/22: N(mean, scale^2) samples shaped like ``input``."""
    x = T(input)
    out = _like_dtype(dtype, x, ctx, "RandomNormalLike")
    z = torch.randn_like(x, dtype=_sample_dtype(out), generator=_generator(seed))
    return (z * scale + mean).to(out)


@emits("RandomUniformLike", since=1)
def random_uniform_like(input: Any, *, dtype: int | None = None, high: float = 1.0,
                        low: float = 0.0, seed: float | None = None,
                        ctx: EmitContext) -> Any:
    """RandomUniformLike-1/22: U[low, high) samples shaped like ``input``."""
    x = T(input)
    out = _like_dtype(dtype, x, ctx, "RandomUniformLike")
    u = torch.rand_like(x, dtype=_sample_dtype(out), generator=_generator(seed))
    return (u * (high - low) + low).to(out)


@emits("Bernoulli", since=15)
def bernoulli(input: Any, *, dtype: int | None = None, seed: float | None = None,
              ctx: EmitContext) -> Any:
    """Bernoulli-15/22: output = 1 with probability ``input``, else 0."""
    p = T(input)
    out = _like_dtype(dtype, p, ctx, "Bernoulli")
    p = p.to(_sample_dtype(known_dtype(ctx, 0, p, "Bernoulli")))
    return torch.bernoulli(p, generator=_generator(seed)).to(out)


@emits("Multinomial", since=7)
def multinomial(input: Any, *, dtype: int = 6, sample_size: int = 1,
                seed: float | None = None, ctx: EmitContext) -> Any:
    """Multinomial-7/22: input[batch, class] unnormalised log-probabilities
    -> output[batch, sample_size] class indices, drawn with replacement."""
    out = torch_dtype(DType(dtype))
    if out not in (torch.int32, torch.int64):
        raise UnsupportedOpError(LAYER, "Multinomial", node=ctx.node_name,
                                 hint=f"dtype must be int32 or int64, got {out}")
    probs = torch.softmax(T(input).to(torch.float64), dim=-1)
    return torch.multinomial(probs, sample_size, replacement=True,
                             generator=_generator(seed)).to(out)
