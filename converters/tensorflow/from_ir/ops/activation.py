"""Activation emitters (Relu family, sigmoids, Gelu, Swish, ...).

Composite activations on float16/bfloat16 are evaluated in float32 and rounded back once:
a chain of half-precision ops accumulates several roundings, more than ONNX's reference
(computed in float32) allows. Python-float attributes convert to the operand's type."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.ops.cast import work_precision
from tensorbridge.converters.tensorflow.from_ir.ops.elementwise import wide
from tensorbridge.converters.tensorflow.from_ir.registry import emits


def _back(y: Any, like: Any) -> Any:
    return tf.cast(y, like.dtype) if y.dtype != like.dtype else y


@emits("Relu", since=1)
def relu(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Relu-1/6/13/14: max(X, 0)."""
    return tf.nn.relu(X)


@emits("LeakyRelu", since=1)
def leaky_relu(X: Any, *, alpha: float = 0.01,
               consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """LeakyRelu-1/6/16: X if X >= 0 else alpha * X."""
    # in float32 for 16-bit floats: TF would round alpha itself to bfloat16 first
    return _back(tf.nn.leaky_relu(wide(X), alpha=alpha), X)


@emits("PRelu", since=1)
def prelu_1(X: Any, slope: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """PRelu-1/6: X if X >= 0 else slope * X; a 1-D slope may hold one value per channel."""
    xs, ss = X.shape, slope.shape
    if ss.rank == 1 and xs.rank is not None and xs.rank > 2 and ss[0] == xs[1] != xs[-1]:
        # Pre-opset-7 exporters gave per-channel slopes as (C,) for NCHW inputs.
        slope = tf.reshape(slope, [-1] + [1] * (xs.rank - 2))
    return prelu(X, slope)


@emits("PRelu", since=7)
def prelu(X: Any, slope: Any) -> Any:
    """PRelu-7/9/16: X if X >= 0 else slope * X (slope broadcasts to X)."""
    return tf.where(X < 0, X * slope, X)


@emits("Elu", since=1)
def elu(X: Any, *, alpha: float = 1.0, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Elu-1/6/22: X if X >= 0 else alpha * (exp(X) - 1)."""
    x = wide(X)
    return _back(tf.where(x > 0, x, alpha * tf.math.expm1(tf.minimum(x, 0))), X)


@emits("Selu", since=1)
def selu(X: Any, *, alpha: float = 1.67326319217681884765625,
         gamma: float = 1.05070102214813232421875,
         consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Selu-1/6/22: gamma * (X if X > 0 else alpha * (exp(X) - 1))."""
    x = wide(X)
    return _back(gamma * tf.where(x > 0, x, alpha * tf.math.expm1(tf.minimum(x, 0))), X)


@emits("Celu", since=12)
def celu(X: Any, *, alpha: float = 1.0) -> Any:
    """Celu-12/28: max(0, X) + min(0, alpha * (exp(X / alpha) - 1))."""
    x = wide(X)
    return _back(tf.nn.relu(x) + alpha * tf.math.expm1(tf.minimum(x, 0) / alpha), X)


@emits("Sigmoid", since=1)
def sigmoid(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Sigmoid-1/6/13: 1 / (1 + exp(-X))."""
    return _back(tf.sigmoid(wide(X)), X)  # TF's own bfloat16 sigmoid is a few ulps off


@emits("HardSigmoid", since=1)
def hard_sigmoid(X: Any, *, alpha: float = 0.2, beta: float = 0.5,
                 consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """HardSigmoid-1/6/22: max(0, min(1, alpha * X + beta))."""
    x = wide(X)
    return _back(tf.clip_by_value(alpha * x + beta, 0.0, 1.0), X)


@emits("HardSwish", since=14)
def hard_swish(X: Any) -> Any:
    """HardSwish-14/22: X * max(0, min(1, X / 6 + 0.5))."""
    x = wide(X)
    return _back(x * tf.clip_by_value(x / 6 + 0.5, 0.0, 1.0), X)


@emits("Softplus", since=1)
def softplus(X: Any) -> Any:
    """Softplus-1/22: log(1 + exp(X)), overflow-free."""
    return _back(tf.nn.softplus(wide(X)), X)


@emits("Softsign", since=1)
def softsign(input: Any) -> Any:
    """Softsign-1/22: input / (1 + |input|)."""
    return _back(tf.nn.softsign(wide(input)), input)


@emits("Mish", since=18)
def mish(X: Any) -> Any:
    """Mish-18/22: X * tanh(softplus(X))."""
    x = wide(X)
    return _back(x * tf.tanh(tf.nn.softplus(x)), X)


@emits("Swish", since=24)
def swish(X: Any, *, alpha: float = 1.0) -> Any:
    """Swish-24: X * sigmoid(alpha * X)."""
    x = wide(X)
    return _back(x * tf.sigmoid(alpha * x if alpha != 1.0 else x), X)


@emits("Gelu", since=20)
def gelu(X: Any, *, approximate: str = "none") -> Any:
    """Gelu-20: 0.5 * X * (1 + erf(X / sqrt(2))), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"Gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    return _back(tf.nn.gelu(wide(X), approximate=approximate == "tanh"), X)


@emits("ThresholdedRelu", since=10)
def thresholded_relu(X: Any, *, alpha: float = 1.0) -> Any:
    """ThresholdedRelu-10/22: X if X > alpha else 0."""
    return tf.where(X > alpha, X, tf.zeros_like(X))


@emits("Shrink", since=9)
def shrink(input: Any, *, bias: float = 0.0, lambd: float = 0.5) -> Any:
    """Shrink-9: input + bias below -lambd, input - bias above lambd, 0 in between."""
    # Integer inputs take float attributes: compute in float64 and truncate back.
    x = wide(input) if input.dtype.is_floating else tf.cast(input, tf.float64)
    y = tf.where(x < -lambd, x + bias, tf.where(x > lambd, x - bias, tf.zeros_like(x)))
    return _back(y, input)


@emits("SwiGLU", since=28)
def swiglu(A: Any, B: Any, *, alpha: float = 1.0) -> Any:
    """SwiGLU-28: Swish_alpha(A) * B, A and B of identical shape."""
    a = work_precision(A)
    y = a * tf.sigmoid(a * alpha) * tf.cast(B, a.dtype)
    return tf.cast(y, A.dtype)
