"""The TensorFlow emitter registry: ``@emits("Conv")`` on one function per ONNX op, whose
signature is the spec's (inputs positional, attributes keyword-only with the spec's
defaults; a keyword-only ``ctx`` receives a :class:`converters.emitting.EmitContext`).

An emitter receives TensorFlow tensors (constants arrive as eager constants captured by the
traced function) and returns tensors (a tuple for several outputs). It runs inside a
``tf.function`` trace, so shapes may be dynamic: use ``tf.shape`` for sizes that are not
static in the IR, never Python branches on tensor data."""

from __future__ import annotations

from typing import Any

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.ir.op_registry import OpRegistry


def _constant(array: Any) -> Any:
    """A numpy constant as the emitter holds constants: an eager tf.constant."""
    import tensorflow as tf

    return tf.constant(array)


EMITTERS = OpRegistry("TensorFlow emitter", constant=_constant)
emits = EMITTERS.register


def out_dtype(ctx: EmitContext, i: int = 0) -> Any:
    """The tf dtype of output ``i`` (None when the IR does not know it)."""
    from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype

    t = ctx.output_type(i)
    return tf_dtype(t.dtype) if t is not None and t.dtype is not None else None
