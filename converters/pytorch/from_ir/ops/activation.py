"""Activation emitters (Relu family, sigmoids, Gelu, Swish, SwiGLU, Shrink...). Each uses the
``torch.nn.functional`` call of the same function when its attributes make the two
identical (``F.silu`` for Swish with alpha 1, ``F.hardshrink`` for Shrink without bias...)
and spells the formula out otherwise."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.ops.cast import dtype_of, known_dtype, work_dtype
from tensorbridge.converters.pytorch.from_ir.registry import emits

_SELU_ALPHA = 1.67326319217681884765625
_SELU_GAMMA = 1.05070102214813232421875


@emits("Relu", since=1)
def relu(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Relu-1/6/13/14: max(X, 0)."""
    return F.relu(T(X))


@emits("LeakyRelu", since=1)
def leaky_relu(X: Any, *, alpha: float = 0.01, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """LeakyRelu-1/6/16: X if X >= 0 else alpha * X."""
    return F.leaky_relu(T(X), alpha)


def _is_float(dtype: torch.dtype | None) -> bool:
    return dtype is not None and dtype.is_floating_point


def _channel_slope(ctx: EmitContext) -> bool:
    """Whether PRelu's slope is one value, or one per channel shaped (C, 1, ..., 1) for an
    (N, C, ...) input: the two layouts F.prelu takes (as a flat weight)."""
    xs, ss = ctx.input_shape(0), ctx.input_shape(1)
    if xs is None or ss is None or not all(isinstance(d, int) for d in ss):
        return False
    if math.prod(ss) == 1:
        return len(ss) <= len(xs) and len(xs) >= 1
    return (len(xs) >= 2 and len(ss) == len(xs) - 1 and ss[0] == xs[1]
            and all(d == 1 for d in ss[1:]))


@emits("PRelu", since=7)
def prelu(X: Any, slope: Any, *, ctx: EmitContext) -> Any:
    """PRelu-7/9/16: X if X >= 0 else slope * X (slope broadcasts to X)."""
    x, s = T(X), T(slope)
    if _is_float(dtype_of(ctx, 0, X)) and _channel_slope(ctx):
        return F.prelu(x, s.reshape(-1))
    return torch.where(x < 0, x * s, x)


# Separate: before 7 a (C,) slope of an N-D input meant one value per channel.
@emits("PRelu", since=1)
def prelu_1(X: Any, slope: Any, *, consumed_inputs: tuple[int, ...] | None = None,
            ctx: EmitContext) -> Any:
    """PRelu-1/6: as PRelu-7, but a 1-D slope may hold one value per channel."""
    xs, ss = ctx.input_shape(0), ctx.input_shape(1)
    if (xs is not None and ss is not None and len(ss) == 1 and len(xs) > 2
            and ss[0] == xs[1] != xs[-1] and _is_float(dtype_of(ctx, 0, X))):
        # Pre-opset-7 exporters gave per-channel slopes as (C,) for NCHW inputs.
        return F.prelu(T(X), T(slope))
    return prelu(X, slope, ctx=ctx)


@emits("Elu", since=1)
def elu(X: Any, *, alpha: float = 1.0, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Elu-1/6/22: X if X >= 0 else alpha * (exp(X) - 1)."""
    return F.elu(T(X), alpha)


@emits("Selu", since=1)
def selu(X: Any, *, alpha: float = _SELU_ALPHA, gamma: float = _SELU_GAMMA,
         consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Selu-1/6/22: gamma * (X if X > 0 else alpha * (exp(X) - 1))."""
    if (alpha, gamma) == (_SELU_ALPHA, _SELU_GAMMA):
        return F.selu(T(X))  # the same constants (ONNX gives them rounded to float32)
    return F.elu(T(X), alpha) * gamma


@emits("Celu", since=12)
def celu(X: Any, *, alpha: float = 1.0) -> Any:
    """Celu-12/28: max(0, X) + min(0, alpha * (exp(X / alpha) - 1))."""
    return F.celu(T(X), alpha)


@emits("Sigmoid", since=1)
def sigmoid(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Sigmoid-1/6/13: 1 / (1 + exp(-X))."""
    return torch.sigmoid(T(X))


@emits("HardSigmoid", since=1)
def hard_sigmoid(X: Any, *, alpha: float = 0.2, beta: float = 0.5,
                 consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """HardSigmoid-1/6/22: max(0, min(1, alpha * X + beta))."""
    x = T(X)
    if math.isclose(alpha, 1 / 6, rel_tol=1e-7) and beta == 0.5:
        return F.hardsigmoid(x)  # torch's hardsigmoid is x / 6 + 1/2, clamped
    return torch.clamp(x * alpha + beta, 0, 1)


@emits("HardSwish", since=14)
def hard_swish(X: Any) -> Any:
    """HardSwish-14/22: X * max(0, min(1, X / 6 + 0.5))."""
    return F.hardswish(T(X))


@emits("Softplus", since=1)
def softplus(X: Any) -> Any:
    """Softplus-1/22: log(1 + exp(X)). (F.softplus returns X itself above 20, where the
    two differ by less than exp(-20) relative.)"""
    return F.softplus(T(X))


@emits("Softsign", since=1)
def softsign(input: Any) -> Any:
    """Softsign-1/22: input / (1 + |input|)."""
    return F.softsign(T(input))


@emits("Mish", since=18)
def mish(X: Any) -> Any:
    """Mish-18/22: X * tanh(softplus(X))."""
    return F.mish(T(X))


@emits("Swish", since=24)
def swish(X: Any, *, alpha: float = 1.0) -> Any:
    """Swish-24: X * sigmoid(alpha * X)."""
    x = T(X)
    return F.silu(x) if alpha == 1.0 else x * torch.sigmoid(x * alpha)


@emits("Gelu", since=20)
def gelu(X: Any, *, approximate: str = "none") -> Any:
    """Gelu-20: 0.5 * X * (1 + erf(X / sqrt(2))), or its tanh approximation."""
    return F.gelu(T(X), approximate=approximate)


@emits("ThresholdedRelu", since=10)
def thresholded_relu(X: Any, *, alpha: float = 1.0) -> Any:
    """ThresholdedRelu-10/22: X if X > alpha else 0."""
    return F.threshold(T(X), alpha, 0.0)


@emits("Shrink", since=9)
def shrink(input: Any, *, bias: float = 0.0, lambd: float = 0.5, ctx: EmitContext) -> Any:
    """Shrink-9: input + bias below -lambd, input - bias above lambd, 0 in between."""
    x, dtype = T(input), known_dtype(ctx, 0, input, "Shrink")
    if dtype.is_floating_point:
        if bias == 0.0:
            return F.hardshrink(x, lambd)
        if bias == lambd:
            return F.softshrink(x, lambd)
    # Integer inputs: shift in float64 and truncate back, as a float bias requires.
    w = x if dtype.is_floating_point else x.to(torch.float64)
    zero = torch.zeros_like(w)
    y = torch.where(w < -lambd, w + bias, torch.where(w > lambd, w - bias, zero))
    return y.to(dtype)


@emits("SwiGLU", since=28)
def swiglu(A: Any, B: Any, *, alpha: float = 1.0, ctx: EmitContext | None = None) -> Any:
    """SwiGLU-28: Swish_alpha(A) * B, A and B of identical shape."""
    a = T(A)
    dtype = dtype_of(ctx, 0, a)
    aw = a.to(work_dtype(dtype))
    gate = F.silu(aw) if alpha == 1.0 else aw * torch.sigmoid(aw * alpha)
    return (gate * T(B).to(aw.dtype)).to(dtype)
