"""Sequence and optional emitters.

Representation while tracing: a sequence is a Python ``list`` of tensors, an empty optional
is ``None`` and a non-empty optional is just its element (as in the runtime). A list's length
is therefore static: positions and split sizes must be known at conversion time (IR
constants, or values computed from them, such as the iteration number of a Loop the Loop
emitter unrolls). Emitters build new lists: an input list may be shared with other users."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.ops.shape import (
    I64,
    LAYER,
    dims,
    rank_of,
    static,
    static_ints,
)
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis, sequence_position
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError


def _position(pos: Any, length: int, default: int, op: str, *, insert: bool = False) -> int | Any:
    """The position input counted from 0 (``default`` when absent): an int when static,
    else an int64 scalar tensor."""
    if pos is None:
        return default
    known = static_ints(pos)
    if known is None:
        p = tf.reshape(tf.cast(pos, I64), [])
        return tf.where(p < 0, p + length, p)
    return sequence_position(known[0], length, op, insert=insert)


def _choose(p: Any, options: list[Any]) -> Any:
    """options[p] for a run-time p; the tensors may differ in shape, hence a switch, not a
    gather."""
    if len(options) == 1:
        return options[0]
    return tf.switch_case(tf.cast(p, tf.int32), [lambda t=t: t for t in options])


@emits("SequenceEmpty", since=11)
def sequence_empty(*, dtype: int | None = None) -> list[Any]:
    """SequenceEmpty-11() -> output; dtype (ONNX code, default float) only types the list."""
    if dtype is not None:
        DType(dtype)  # reject codes that are not element types
    return []


@emits("SequenceConstruct", since=11)
def sequence_construct(*inputs: Any) -> list[Any]:
    """SequenceConstruct-11(inputs...) -> output_sequence."""
    return list(inputs)


@emits("SequenceInsert", since=11)
def sequence_insert(input_sequence: list[Any], tensor: Any, position: Any = None) -> list[Any]:
    """SequenceInsert-11(input_sequence, tensor, position?) -> output_sequence; default end.
    A run-time position picks each output among the (at most 3) tensors that can land there."""
    seq = input_sequence
    n = len(seq)
    p = _position(position, n, n, "SequenceInsert", insert=True)
    if isinstance(p, int):
        return [*seq[:p], tensor, *seq[p:]]
    # output j is seq[j] when j < p, the tensor when j == p, else seq[j-1]; sign(j-p)+1
    # picks among them (an impossible choice at either end is filled by the tensor)
    return [_choose(tf.sign(j - p) + 1, [seq[j] if j < n else tensor, tensor,
                                         seq[j - 1] if j else tensor])
            for j in range(n + 1)]


@emits("SequenceErase", since=11)
def sequence_erase(input_sequence: list[Any], position: Any = None) -> list[Any]:
    """SequenceErase-11(input_sequence, position?) -> output_sequence; default last."""
    seq = input_sequence
    n = len(seq)
    if not n:
        raise ValueError("SequenceErase: the sequence is empty")
    p = _position(position, n, n - 1, "SequenceErase")
    if isinstance(p, int):
        return [*seq[:p], *seq[p + 1:]]
    # output j is seq[j] when j < p, else seq[j+1]
    return [_choose(tf.cast(j >= p, I64), [seq[j], seq[j + 1]]) for j in range(n - 1)]


@emits("SequenceAt", since=11)
def sequence_at(input_sequence: list[Any], position: Any) -> Any:
    """SequenceAt-11(input_sequence, position) -> tensor."""
    p = _position(position, len(input_sequence), 0, "SequenceAt")
    return input_sequence[p] if isinstance(p, int) else _choose(p, input_sequence)


@emits("SequenceLength", since=11)
def sequence_length(input_sequence: list[Any]) -> Any:
    """SequenceLength-11(input_sequence) -> length int64 scalar."""
    return tf.constant(len(input_sequence), I64)


@emits("SplitToSequence", since=11)
def split_to_sequence(input: Any, split: Any = None, *, axis: int = 0,
                      keepdims: int = 1) -> list[Any]:
    """SplitToSequence-11(input, split?) -> output_sequence. No split: pieces of length 1
    (squeezed unless keepdims). Scalar split: pieces of that length, the last may be shorter.
    1-D split: the listed lengths. The number of pieces must be static."""
    axis = norm_axis(axis, rank_of(input, "SplitToSequence"), "SplitToSequence")
    dim = dims(input)[axis]
    known = None if split is None else static(split)
    if split is not None and known is None and split.shape.rank == 1 and \
            split.shape[0] is not None:
        # run-time lengths, but a static count of them
        return tf.split(input, tf.cast(split, I64), num=split.shape[0], axis=axis)
    if (split is not None and known is None) or \
            ((known is None or known.ndim == 0) and not isinstance(dim, int)):
        raise UnsupportedOpError(LAYER, "SplitToSequence", hint="the number of pieces must be "
                                 "known at conversion time (a static split, or a 1-D split "
                                 "of static length)")
    if known is None:
        if keepdims:
            return tf.split(input, dim, axis=axis) if dim else []
        return tf.unstack(input, num=dim, axis=axis)
    if known.ndim == 0:
        step = int(known)
        if step <= 0:
            raise ValueError(f"SplitToSequence: split must be positive, got {step}")
        sizes = [step] * (dim // step) + ([dim % step] if dim % step else [])
    else:
        sizes = [int(s) for s in known]
    return tf.split(input, sizes, axis=axis)


@emits("ConcatFromSequence", since=11)
def concat_from_sequence(input_sequence: list[Any], *, axis: int, new_axis: int = 0) -> Any:
    """ConcatFromSequence-11(input_sequence) -> concat_result; new_axis=1 stacks instead."""
    if not input_sequence:
        raise ValueError("ConcatFromSequence: the sequence is empty")
    if new_axis:
        return tf.stack(input_sequence, axis=axis)
    return tf.concat(input_sequence, axis=axis)


@emits("Optional", since=15)
def optional(input: Any = None, *, type: Any = None) -> Any:
    """Optional-15(input?) -> output; empty (None) when the input is missing."""
    if input is None and type is None:
        raise ValueError("Optional: an empty optional needs the 'type' attribute")
    return input


@emits("OptionalHasElement", since=15)
def optional_has_element(input: Any = None) -> Any:
    """OptionalHasElement-15/18(input?) -> output bool scalar (input optional from 18)."""
    return tf.constant(input is not None)


@emits("OptionalGetElement", since=15)
def optional_get_element(input: Any) -> Any:
    """OptionalGetElement-15/18(input) -> output; a plain tensor/sequence passes through."""
    if input is None:
        raise ValueError("OptionalGetElement: the optional is empty")
    return input
