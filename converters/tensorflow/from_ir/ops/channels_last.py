"""Emitters for the channels-last twins (domain ``tensorbridge.nhwc``) that the layout pass
(ir/passes/channels_last.py) substitutes for Conv, pooling and BatchNormalization before a
graph is emitted for TensorFlow, whose CPU kernels are NHWC.

Each twin reuses the standard emitter: that one moves NCHW data to NHWC, runs TF's kernel
and moves it back; here the data arrive NHWC and leave NHWC, so the two layout moves on
either side are inverse transposes that TensorFlow's graph optimizer (grappler's
arithmetic optimizer) removes when the function is traced. Weights arrive as the pass laid
them out, (k..., I, O) -- TF's own filter layout, so the variables look like Keras' -- and
go back to ONNX's (O, I, k...) the same way.

A graph imports the twins' domain at its ai.onnx opset (ir/schemas.py), so each twin is
registered for every version of its standard op and takes that version's attributes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.layout import to_channels_first, to_channels_last
from tensorbridge.converters.tensorflow.from_ir.ops import conv, norm, pool, shape  # noqa: F401  (register the ops wrapped here)
from tensorbridge.converters.tensorflow.from_ir.registry import EMITTERS
from tensorbridge.ir.passes.channels_last import DOMAIN, OPS


def _onnx_weight(w: Any) -> Any:
    rank = w.shape.rank
    return tf.transpose(w, [rank - 1, rank - 2, *range(rank - 2)])  # (k..., I, O) -> (O, I, k...)


def _standard_versions(op_type: str) -> list[int]:
    """The since-versions of the standard (ai.onnx) emitter of ``op_type``."""
    return [since for domain, op, since in EMITTERS.keys() if domain == "" and op == op_type]


def _wrapped(op_type: str, since: int, weights: tuple[int, ...]) -> Callable[..., Any]:
    """The standard emitter of ``op_type``-``since`` on channels-last data: X moved to NCHW,
    weights back to ONNX's layout, the first output moved back to channels-last."""
    standard = EMITTERS.lookup(op_type, "", since).fn

    @functools.wraps(standard)  # the same signature: inputs, attributes, ctx
    def emit(X: Any, *inputs: Any, **kwargs: Any) -> Any:
        rank = X.shape.rank
        args = [_onnx_weight(v) if i + 1 in weights and v is not None else v for i, v in enumerate(inputs)]
        y = standard(to_channels_first(X, rank), *args, **kwargs)
        if isinstance(y, tuple):
            return (to_channels_last(y[0], rank), *y[1:])
        return to_channels_last(y, rank)

    emit.__qualname__ = emit.__name__ = f"{op_type.lower()}_{since}_channels_last"
    return emit


def _register(op_type: str, weights: tuple[int, ...]) -> None:
    """One twin per version of the standard emitter: the twins follow the graph's ai.onnx
    opset (ir/schemas.py), so each version keeps its own attributes."""
    for since in _standard_versions(op_type):
        EMITTERS.register(op_type, domain=DOMAIN, since=since)(_wrapped(op_type, since, weights))


@EMITTERS.register("Conv", domain=DOMAIN)
def conv_channels_last(X: Any, W: Any, B: Any = None, *, auto_pad: str = "NOTSET",
                       dilations: tuple[int, ...] | None = None, group: int = 1,
                       kernel_shape: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
                       strides: tuple[int, ...] | None = None) -> Any:
    """Conv (every version: they share their attributes) on channels-last X with the weight
    in TF's (k..., C/group, M) layout: TF's kernel directly, no layout moves at all."""
    return conv.conv_channels_last(X, W, B, auto_pad, dilations, group, pads, strides)


@EMITTERS.register("DepthwiseConv", domain=DOMAIN)
def depthwise_conv_channels_last(X: Any, W: Any, B: Any = None, *, auto_pad: str = "NOTSET",
                                 dilations: tuple[int, ...] | None = None, group: int = 1,
                                 kernel_shape: tuple[int, ...] | None = None,
                                 pads: tuple[int, ...] | None = None,
                                 strides: tuple[int, ...] | None = None) -> Any:
    """Depthwise 2-D Conv on channels-last X, W in TF's (kh, kw, C, multiplier) layout."""
    return conv.depthwise_channels_last(X, W, B, auto_pad, dilations, pads, strides)


def _bn_inference(X: Any, scale: Any, B: Any, input_mean: Any, input_var: Any, epsilon: float) -> Any:
    """Inference batch norm with the channels last: the per-channel vectors broadcast as they
    are (a wrapped NCHW version would leave its transposes apart, around the arithmetic)."""
    # the statistics in float32 for the half types, as the NCHW emitter and the runtime do
    ct = tf.float32 if input_var.dtype in (tf.float16, tf.bfloat16) else input_var.dtype
    s, b, m, v = (tf.cast(t, ct) for t in (scale, B, input_mean, input_var))
    inv = tf.math.rsqrt(v + tf.cast(epsilon, ct)) * s
    return X * tf.cast(inv, X.dtype) + tf.cast(b - m * inv, X.dtype)


def _bn(since: int, inference: bool, X: Any, stats: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Per-channel inference stays channels-last; any other mode (legacy spatial=0, batch
    statistics) runs the standard emitter of ``since`` between transposes."""
    if inference:
        return _bn_inference(X, *stats, kwargs["epsilon"])
    return _wrapped("BatchNormalization", since, ())(X, *stats, **kwargs)


@EMITTERS.register("BatchNormalization", domain=DOMAIN, since=1)
def batch_normalization_1_channels_last(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                                        consumed_inputs: tuple[int, ...] | None = None,
                                        epsilon: float = 1e-5, is_test: int = 0, momentum: float = 0.9,
                                        spatial: int = 1, ctx: EmitContext) -> Any:
    """BatchNormalization-1/6: with one output it is inference (is_test only matters for the
    statistics outputs), per channel unless spatial=0."""
    kwargs = {"consumed_inputs": consumed_inputs, "epsilon": epsilon, "is_test": is_test,
              "momentum": momentum, "spatial": spatial, "ctx": ctx}
    return _bn(1, bool(spatial) and ctx.n_outputs < 2, X, (scale, B, mean, var), kwargs)


@EMITTERS.register("BatchNormalization", domain=DOMAIN, since=7)
def batch_normalization_7_channels_last(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                                        epsilon: float = 1e-5, momentum: float = 0.9, spatial: int = 1,
                                        ctx: EmitContext) -> Any:
    """BatchNormalization-7: training iff the statistics outputs are requested."""
    kwargs = {"epsilon": epsilon, "momentum": momentum, "spatial": spatial, "ctx": ctx}
    return _bn(7, bool(spatial) and ctx.n_outputs < 2, X, (scale, B, mean, var), kwargs)


@EMITTERS.register("BatchNormalization", domain=DOMAIN, since=9)
def batch_normalization_9_channels_last(X: Any, scale: Any, B: Any, mean: Any, var: Any, *,
                                        epsilon: float = 1e-5, momentum: float = 0.9,
                                        ctx: EmitContext) -> Any:
    """BatchNormalization-9: spatial removed (always per channel)."""
    kwargs = {"epsilon": epsilon, "momentum": momentum, "ctx": ctx}
    return _bn(9, ctx.n_outputs < 2, X, (scale, B, mean, var), kwargs)


@EMITTERS.register("BatchNormalization", domain=DOMAIN, since=14)
def batch_normalization_14_channels_last(X: Any, scale: Any, B: Any, input_mean: Any, input_var: Any, *,
                                         epsilon: float = 1e-5, momentum: float = 0.9,
                                         training_mode: int = 0, ctx: EmitContext) -> Any:
    """BatchNormalization-14/15: inference unless training_mode."""
    kwargs = {"epsilon": epsilon, "momentum": momentum, "training_mode": training_mode, "ctx": ctx}
    return _bn(14, not training_mode, X, (scale, B, input_mean, input_var), kwargs)


for _op, _weights in OPS.items():
    if _op not in ("BatchNormalization", "Conv"):
        _register(_op, _weights)
