"""Kernels: activation functions (Relu family, sigmoids, Gelu, Swish, SwiGLU, ...).

Attribute scalars are Python floats, which numpy treats as weak scalars: float16/32 inputs
keep their type. Transcendental activations on float16/bfloat16 are evaluated in float32 and
rounded back, so saturating regions (e.g. sigmoid of large negative inputs) keep the
precision the narrow type can represent.

Speed notes (numpy 2.x): ``np.where`` with a data-dependent mask runs ~20x slower than a
SIMD ufunc (it branches per element), and ``np.maximum(x, 0)`` against a scalar misses the
SIMD loop, while ``np.clip`` with both bounds hits it. Piecewise activations are therefore
written as ``clip(x, 0, +inf) + f(clip(x, -inf, 0))`` rather than with ``where``.
"""

from __future__ import annotations

import numpy as np

from tensorbridge.runtime.erf import erf, gelu_exact_f32
from tensorbridge.runtime.kernels.cast import HALF_FLOATS
from tensorbridge.runtime.registry import kernel


def _wide(x: np.ndarray) -> np.ndarray:
    """float16/bfloat16 as float32: exp/tanh stay accurate, and numpy's own float16 and
    bfloat16 arithmetic is slow (no SIMD) and promotes bfloat16 with Python scalars."""
    return x.astype(np.float32) if x.dtype in HALF_FLOATS else x


def _positive(x: np.ndarray) -> np.ndarray:
    """max(x, 0), NaN-preserving, through clip's SIMD loop."""
    top = np.inf if x.dtype.kind == "f" or x.dtype in HALF_FLOATS else np.iinfo(x.dtype).max
    return np.clip(x, 0, top)


def _negative(x: np.ndarray) -> np.ndarray:
    """min(x, 0), NaN-preserving, through clip's SIMD loop."""
    bottom = -np.inf if x.dtype.kind == "f" or x.dtype in HALF_FLOATS else np.iinfo(x.dtype).min
    return np.clip(x, bottom, 0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in x's (wide) type; exp overflow to inf correctly yields 0."""
    with np.errstate(over="ignore"):
        e = np.asarray(np.exp(np.negative(x)))  # a 0-d input gives a numpy scalar: no out= for it
    e += 1
    return np.reciprocal(e, out=e)


@kernel("Relu", since=1)
def relu(X: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Relu-1/6/13/14: max(X, 0)."""
    return _positive(_wide(X)).astype(X.dtype, copy=False)


@kernel("LeakyRelu", since=1)
def leaky_relu(X: np.ndarray, *, alpha: float = 0.01,
               consumed_inputs: list[int] | None = None) -> np.ndarray:
    """LeakyRelu-1/6/16: X if X >= 0 else alpha * X."""
    x = _wide(X)
    if 0.0 <= alpha <= 1.0:  # the usual case: max(X, alpha * X) is the same function
        y = np.maximum(x, x * alpha)
    else:
        y = _negative(x)
        y *= alpha
        y += _positive(x)
    return y.astype(X.dtype, copy=False)


@kernel("PRelu", since=1)
def prelu_1(X: np.ndarray, slope: np.ndarray, *,
            consumed_inputs: list[int] | None = None) -> np.ndarray:
    """PRelu-1/6: X if X >= 0 else slope * X; a 1-D slope may hold one value per channel."""
    if slope.ndim == 1 and X.ndim > 2 and slope.shape[0] == X.shape[1] != X.shape[-1]:
        # Pre-opset-7 exporters gave per-channel slopes as (C,) for NCHW inputs.
        slope = slope.reshape((-1,) + (1,) * (X.ndim - 2))
    return prelu(X, slope)


@kernel("PRelu", since=7)
def prelu(X: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """PRelu-7/9/16: X if X >= 0 else slope * X (slope broadcasts to X)."""
    x = _wide(X)
    y = _negative(x) * _wide(slope)
    y += _positive(x)
    return y.astype(X.dtype, copy=False)


@kernel("Elu", since=1)
def elu(X: np.ndarray, *, alpha: float = 1.0,
        consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Elu-1/6/22: X if X >= 0 else alpha * (exp(X) - 1)."""
    x = _wide(X)
    y = np.expm1(_negative(x))
    y *= alpha
    y += _positive(x)
    return y.astype(X.dtype, copy=False)


@kernel("Selu", since=1)
def selu(X: np.ndarray, *, alpha: float = 1.67326319217681884765625,
         gamma: float = 1.05070102214813232421875,
         consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Selu-1/6/22: gamma * (X if X > 0 else alpha * (exp(X) - 1))."""
    x = _wide(X)
    y = np.expm1(_negative(x))
    y *= alpha
    y += _positive(x)
    y *= gamma
    return y.astype(X.dtype, copy=False)


@kernel("Celu", since=12)
def celu(X: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """Celu-12/28: max(0, X) + min(0, alpha * (exp(X / alpha) - 1))."""
    x = _wide(X)
    y = np.expm1(_negative(x) / alpha)
    y *= alpha
    y += _positive(x)
    return y.astype(X.dtype, copy=False)


@kernel("Sigmoid", since=1)
def sigmoid(X: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Sigmoid-1/6/13: 1 / (1 + exp(-X))."""
    return _sigmoid(_wide(X)).astype(X.dtype, copy=False)


@kernel("HardSigmoid", since=1)
def hard_sigmoid(X: np.ndarray, *, alpha: float = 0.2, beta: float = 0.5,
                 consumed_inputs: list[int] | None = None) -> np.ndarray:
    """HardSigmoid-1/6/22: max(0, min(1, alpha * X + beta))."""
    y = _wide(X) * alpha
    y += beta
    return np.clip(y, 0, 1, out=y).astype(X.dtype, copy=False)


@kernel("HardSwish", since=14)
def hard_swish(X: np.ndarray) -> np.ndarray:
    """HardSwish-14/22: X * max(0, min(1, X / 6 + 0.5))."""
    x = _wide(X)
    y = x * (1 / 6)
    y += 0.5
    np.clip(y, 0, 1, out=y)
    y *= x
    return y.astype(X.dtype, copy=False)


@kernel("Softplus", since=1)
def softplus(X: np.ndarray) -> np.ndarray:
    """Softplus-1/22: log(1 + exp(X)), overflow-free."""
    return np.logaddexp(_wide(X), 0).astype(X.dtype, copy=False)


@kernel("Softsign", since=1)
def softsign(input: np.ndarray) -> np.ndarray:
    """Softsign-1/22: input / (1 + |input|)."""
    x = _wide(input)
    d = np.abs(x)
    d += 1
    return np.divide(x, d, out=d).astype(input.dtype, copy=False)


@kernel("Mish", since=18)
def mish(X: np.ndarray) -> np.ndarray:
    """Mish-18/22: X * tanh(softplus(X))."""
    x = _wide(X)
    y = np.tanh(np.logaddexp(x, 0))
    y *= x
    return y.astype(X.dtype, copy=False)


@kernel("Swish", since=24)
def swish(X: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """Swish-24: X * sigmoid(alpha * X)."""
    x = _wide(X)
    y = _sigmoid(x * alpha if alpha != 1.0 else x)
    y *= x
    return y.astype(X.dtype, copy=False)


@kernel("SwiGLU", since=28)
def swiglu(A: np.ndarray, B: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """SwiGLU-28: Swish_alpha(A) * B, A and B of identical shape."""
    if A.shape != B.shape:
        raise ValueError(f"SwiGLU needs A and B of one shape (no broadcasting), got {A.shape} and {B.shape}")
    a = _wide(A)
    y = _sigmoid(a * alpha if alpha != 1.0 else a)
    y *= a
    y *= B
    return y.astype(A.dtype, copy=False)


_SQRT_HALF = 0.7071067811865476
_SQRT_2_OVER_PI = 0.7978845608028654


@kernel("Gelu", since=20)
def gelu(X: np.ndarray, *, approximate: str = "none") -> np.ndarray:
    """Gelu-20: 0.5 * X * (1 + erf(X / sqrt(2))), or its tanh approximation."""
    if approximate == "none" and X.dtype == np.float32:
        return gelu_exact_f32(X)
    x = _wide(X)
    if approximate == "tanh":
        inner = x * x
        inner *= 0.044715
        inner += 1
        inner *= x
        inner *= _SQRT_2_OVER_PI
        y = np.tanh(inner, out=inner)
    elif approximate == "none":
        y = erf(x * _SQRT_HALF)
    else:
        raise ValueError(f"Gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    y += 1
    y *= x
    y *= 0.5
    return y.astype(X.dtype, copy=False)


@kernel("ThresholdedRelu", since=10)
def thresholded_relu(X: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """ThresholdedRelu-10/22: X if X > alpha else 0."""
    return np.where(X > alpha, X, X.dtype.type(0))


@kernel("Shrink", since=9)
def shrink(input: np.ndarray, *, bias: float = 0.0, lambd: float = 0.5) -> np.ndarray:
    """Shrink-9: input + bias below -lambd, input - bias above lambd, 0 in between."""
    x = input
    shifted = np.where(x < 0, x + bias, x - bias)
    out = np.where(np.abs(x) > lambd, shifted, 0)
    # A Python-float bias promotes integer inputs to float64; the output keeps the input type.
    return out.astype(x.dtype, copy=False)
