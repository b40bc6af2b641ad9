"""Emitters for the channels-last twins (domain ``tensorbridge.nhwc``) that the layout pass
(ir/passes/channels_last.py) substitutes for Conv, pooling and BatchNormalization before a
graph is emitted for TensorFlow, whose CPU kernels are NHWC.

Each twin reuses the standard emitter: that one moves NCHW data to NHWC, runs TF's kernel
and moves it back; here the data arrive NHWC and leave NHWC, so the two layout moves on
either side are inverse transposes that TensorFlow's graph optimizer (grappler's
arithmetic optimizer) removes when the function is traced. Weights arrive as the pass laid
them out, (k..., I, O) -- TF's own filter layout, so the variables look like Keras' -- and
go back to ONNX's (O, I, k...) the same way."""

from __future__ import annotations

import functools
from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.ops import nn, nn2, shape  # noqa: F401  (register the ops wrapped here)
from tensorbridge.converters.tensorflow.from_ir.ops.nn import to_channels_first, to_channels_last
from tensorbridge.converters.tensorflow.from_ir.registry import EMITTERS
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.passes.channels_last import DOMAIN, OPS

_NEWEST = 10_000  # the twins take the attributes of the newest standard version


def _onnx_weight(w: Any) -> Any:
    rank = w.shape.rank
    return tf.transpose(w, [rank - 1, rank - 2, *range(rank - 2)])  # (k..., I, O) -> (O, I, k...)


def _register(op_type: str, weights: tuple[int, ...]) -> None:
    standard = EMITTERS.lookup(op_type, "", _NEWEST).fn

    @functools.wraps(standard)  # the same signature: inputs, attributes, ctx
    def emit(X: Any, *inputs: Any, **kwargs: Any) -> Any:
        rank = X.shape.rank
        args = [_onnx_weight(v) if i + 1 in weights and v is not None else v for i, v in enumerate(inputs)]
        y = standard(to_channels_first(X, rank), *args, **kwargs)
        if isinstance(y, tuple):
            return (to_channels_last(y[0], rank), *y[1:])
        return to_channels_last(y, rank)

    emit.__qualname__ = emit.__name__ = f"{op_type.lower()}_channels_last"
    EMITTERS.register(op_type, domain=DOMAIN)(emit)


@EMITTERS.register("Conv", domain=DOMAIN)
def conv_channels_last(X: Any, W: Any, B: Any = None, *, auto_pad: str = "NOTSET",
                       dilations: tuple[int, ...] | None = None, group: int = 1,
                       kernel_shape: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
                       strides: tuple[int, ...] | None = None) -> Any:
    """Conv on channels-last X with the weight in TF's (k..., C/group, M) layout: TF's kernel
    directly, no layout moves at all."""
    return nn.conv_channels_last(X, W, B, auto_pad, dilations, group, pads, strides)


@EMITTERS.register("DepthwiseConv", domain=DOMAIN)
def depthwise_conv_channels_last(X: Any, W: Any, B: Any = None, *, auto_pad: str = "NOTSET",
                                 dilations: tuple[int, ...] | None = None, group: int = 1,
                                 kernel_shape: tuple[int, ...] | None = None,
                                 pads: tuple[int, ...] | None = None,
                                 strides: tuple[int, ...] | None = None) -> Any:
    """Depthwise 2-D Conv on channels-last X, W in TF's (kh, kw, C, multiplier) layout."""
    return nn.depthwise_channels_last(X, W, B, auto_pad, dilations, pads, strides)


@EMITTERS.register("BatchNormalization", domain=DOMAIN)
def batch_normalization_channels_last(X: Any, scale: Any, B: Any, input_mean: Any, input_var: Any, *,
                                      epsilon: float = 1e-5, momentum: float = 0.9,
                                      training_mode: int = 0) -> Any:
    """Inference batch norm with the channels last: the per-channel vectors broadcast as they
    are (a wrapped NCHW version would leave its transposes apart, around the arithmetic)."""
    if training_mode:
        raise UnsupportedOpError("TensorFlow emitter", "BatchNormalization", hint="training_mode=1 "
                                 "is not emitted channels-last; the layout pass only rewrites inference BN")
    # the statistics in float32 for the half types, as the NCHW emitter and the runtime do
    ct = tf.float32 if input_var.dtype in (tf.float16, tf.bfloat16) else input_var.dtype
    s, b, m, v = (tf.cast(t, ct) for t in (scale, B, input_mean, input_var))
    inv = tf.math.rsqrt(v + tf.cast(epsilon, ct)) * s
    return X * tf.cast(inv, X.dtype) + tf.cast(b - m * inv, X.dtype)


for _op, _weights in OPS.items():
    if _op not in ("BatchNormalization", "Conv"):
        _register(_op, _weights)
