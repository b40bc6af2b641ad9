"""Sequence and optional emitters.

A sequence is a Python ``list`` of tensors, an empty optional is ``None`` and a non-empty
optional is its element (as in the runtime). Emitters build new lists rather than editing
their input, which other consumers may share. Lengths and "has element" are known in
Python, so they are host values. SequenceMap runs a body and lives in control_flow."""

from __future__ import annotations

from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import Host, T, ints, scalar
from tensorbridge.converters.pytorch.from_ir.ops.shape import dims_of, rank_of
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis, sequence_position


def _position(pos: Any, length: int, default: int, op: str, *, insert: bool = False) -> int:
    """The position input counted from 0 (``default`` when it is absent)."""
    if pos is None:
        return default
    return sequence_position(int(scalar(pos)), length, op, insert=insert)


@emits("SequenceEmpty", since=11)
def sequence_empty(*, dtype: int | None = None) -> list[Any]:
    """SequenceEmpty-11() -> output; dtype (ONNX code, default float) only types the list."""
    if dtype is not None:
        torch_dtype(dtype)  # a dtype torch lacks is refused here, not at the first insert
    return []


@emits("SequenceConstruct", since=11)
def sequence_construct(*inputs: Any) -> list[Any]:
    """SequenceConstruct-11(inputs...) -> output_sequence."""
    return [T(x) for x in inputs]


@emits("SequenceInsert", since=11)
def sequence_insert(input_sequence: list[Any], tensor: Any, position: Any = None) -> list[Any]:
    """SequenceInsert-11(input_sequence, tensor, position?) -> output_sequence; default end."""
    n = len(input_sequence)
    p = _position(position, n, n, "SequenceInsert", insert=True)
    return [*input_sequence[:p], T(tensor), *input_sequence[p:]]


@emits("SequenceErase", since=11)
def sequence_erase(input_sequence: list[Any], position: Any = None) -> list[Any]:
    """SequenceErase-11(input_sequence, position?) -> output_sequence; default last."""
    n = len(input_sequence)
    p = _position(position, n, n - 1, "SequenceErase")
    if not 0 <= p < n:
        raise ValueError("SequenceErase: the sequence is empty")
    return [*input_sequence[:p], *input_sequence[p + 1:]]


@emits("SequenceAt", since=11)
def sequence_at(input_sequence: list[Any], position: Any) -> Any:
    """SequenceAt-11(input_sequence, position) -> tensor."""
    return input_sequence[_position(position, len(input_sequence), 0, "SequenceAt")]


@emits("SequenceLength", since=11)
def sequence_length(input_sequence: list[Any]) -> Host:
    """SequenceLength-11(input_sequence) -> length int64 scalar, a host value."""
    return Host.of(len(input_sequence), torch.int64)


@emits("SplitToSequence", since=11)
def split_to_sequence(input: Any, split: Any = None, *, axis: int = 0, keepdims: int = 1,
                      ctx: EmitContext) -> list[Any]:
    """SplitToSequence-11(input, split?) -> output_sequence.

    No split: pieces of length 1 (squeezed unless keepdims). Scalar split: pieces of that
    length, the last may be shorter. 1-D split: the listed lengths.
    """
    x = T(input)
    axis = norm_axis(axis, rank_of(input, ctx, 0), "SplitToSequence")
    if split is None:
        return list(torch.split(x, 1, dim=axis)) if keepdims else list(torch.unbind(x, axis))
    if rank_of(split, ctx, 1) == 0:
        step = scalar(split)
        if isinstance(step, int) and step <= 0:
            raise ValueError(f"SplitToSequence: split must be positive, got {step}")
        return list(torch.split(x, step, dim=axis))
    sizes = ints(split)
    dim = dims_of(x, ctx, 0)[axis]
    if isinstance(dim, int) and sum(sizes) != dim:
        raise ValueError(f"SplitToSequence: split {sizes} does not add up to {dim}")
    return list(torch.split(x, sizes, dim=axis))


@emits("ConcatFromSequence", since=11)
def concat_from_sequence(input_sequence: list[Any], *, axis: int, new_axis: int = 0) -> Any:
    """ConcatFromSequence-11(input_sequence) -> concat_result; new_axis=1 stacks instead."""
    if not input_sequence:
        raise ValueError("ConcatFromSequence: the sequence is empty")
    items = [T(x) for x in input_sequence]
    return torch.stack(items, dim=axis) if new_axis else torch.cat(items, dim=axis)


@emits("Optional", since=15)
def optional(input: Any = None, *, type: Any = None) -> Any:
    """Optional-15(input?) -> output; empty (None) when the input is missing."""
    if input is None and type is None:
        raise ValueError("Optional: an empty optional needs the 'type' attribute")
    return input


@emits("OptionalHasElement", since=15)
def optional_has_element(input: Any = None) -> Host:
    """OptionalHasElement-15/18(input?) -> output bool scalar (input optional from 18), a
    host value: whether an optional is empty is known in Python, also while tracing."""
    return Host.of(input is not None, torch.bool)


@emits("OptionalGetElement", since=15)
def optional_get_element(input: Any) -> Any:
    """OptionalGetElement-15/18(input) -> output; a plain tensor/sequence passes through."""
    if input is None:
        raise ValueError("OptionalGetElement: the optional is empty")
    return input
