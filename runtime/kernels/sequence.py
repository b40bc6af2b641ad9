"""Kernels: tensor sequences and optionals.

Runtime representation: a sequence is a Python ``list`` of arrays, an empty optional is
``None`` and a non-empty optional is just its element. Kernels build new lists rather than
editing the input list, because the input value may be shared with other consumers.
SequenceMap needs a subgraph runner and lives with the control-flow kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir.axis_math import norm_axis, sequence_position
from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.registry import kernel


def _position(pos: np.ndarray | None, length: int, default: int, op: str, *,
              insert: bool = False) -> int:
    """The position input counted from 0 (``default`` when it is absent)."""
    if pos is None:
        return default
    return sequence_position(int(np.asarray(pos).reshape(-1)[0]), length, op, insert=insert)


@kernel("SequenceEmpty", since=11)
def sequence_empty(*, dtype: int | None = None) -> list[np.ndarray]:
    """SequenceEmpty-11() -> output; dtype (ONNX code, default float) only types the list."""
    if dtype is not None:
        DType(dtype)  # reject codes that are not element types
    return []


@kernel("SequenceConstruct", since=11)
def sequence_construct(*inputs: np.ndarray) -> list[np.ndarray]:
    """SequenceConstruct-11(inputs...) -> output_sequence."""
    if len({x.dtype for x in inputs}) > 1:
        raise ValueError("SequenceConstruct: all tensors must share one element type")
    return list(inputs)


@kernel("SequenceInsert", since=11)
def sequence_insert(input_sequence: list[np.ndarray], tensor: np.ndarray,
                    position: np.ndarray | None = None) -> list[np.ndarray]:
    """SequenceInsert-11(input_sequence, tensor, position?) -> output_sequence; default end."""
    n = len(input_sequence)
    p = _position(position, n, n, "SequenceInsert", insert=True)
    return [*input_sequence[:p], tensor, *input_sequence[p:]]


@kernel("SequenceErase", since=11)
def sequence_erase(input_sequence: list[np.ndarray],
                   position: np.ndarray | None = None) -> list[np.ndarray]:
    """SequenceErase-11(input_sequence, position?) -> output_sequence; default last."""
    n = len(input_sequence)
    p = _position(position, n, n - 1, "SequenceErase")
    if not 0 <= p < n:
        raise ValueError("SequenceErase: the sequence is empty")
    return [*input_sequence[:p], *input_sequence[p + 1:]]


@kernel("SequenceAt", since=11)
def sequence_at(input_sequence: list[np.ndarray], position: np.ndarray) -> np.ndarray:
    """SequenceAt-11(input_sequence, position) -> tensor."""
    return input_sequence[_position(position, len(input_sequence), 0, "SequenceAt")]


@kernel("SequenceLength", since=11)
def sequence_length(input_sequence: list[np.ndarray]) -> np.ndarray:
    """SequenceLength-11(input_sequence) -> length int64 scalar."""
    return np.array(len(input_sequence), dtype=np.int64)


@kernel("SplitToSequence", since=11)
def split_to_sequence(input: np.ndarray, split: np.ndarray | None = None, *, axis: int = 0,
                      keepdims: int = 1) -> list[np.ndarray]:
    """SplitToSequence-11(input, split?) -> output_sequence.

    No split: pieces of length 1 (squeezed unless keepdims). Scalar split: pieces of that
    length, the last may be shorter. 1-D split: the listed lengths.
    """
    axis = norm_axis(axis, input.ndim, "SplitToSequence")
    dim = input.shape[axis]
    if split is None:
        pieces = np.split(input, dim, axis=axis) if dim else []
        return pieces if keepdims else [np.squeeze(p, axis=axis) for p in pieces]
    if split.ndim == 0:
        step = int(split)
        if step <= 0:
            raise ValueError(f"SplitToSequence: split must be positive, got {step}")
        bounds = list(range(step, dim, step))
    else:
        sizes = split.tolist()
        if sum(sizes) != dim or min(sizes, default=0) < 0:
            raise ValueError(f"SplitToSequence: split {sizes} does not add up to {dim}")
        bounds = np.cumsum(sizes)[:-1].tolist()
    return np.split(input, bounds, axis=axis)


@kernel("ConcatFromSequence", since=11)
def concat_from_sequence(input_sequence: list[np.ndarray], *, axis: int,
                         new_axis: int = 0) -> np.ndarray:
    """ConcatFromSequence-11(input_sequence) -> concat_result; new_axis=1 stacks instead."""
    if not input_sequence:
        raise ValueError("ConcatFromSequence: the sequence is empty")
    if new_axis:
        return np.stack(input_sequence, axis=axis)
    return np.concatenate(input_sequence, axis=axis)


@kernel("Optional", since=15)
def optional(input: Any = None, *, type: Any = None) -> Any:
    """Optional-15(input?) -> output; empty (None) when the input is missing."""
    if input is None and type is None:
        raise ValueError("Optional: an empty optional needs the 'type' attribute")
    return input


@kernel("OptionalHasElement", since=15)
def optional_has_element(input: Any = None) -> np.ndarray:
    """OptionalHasElement-15/18(input?) -> output bool scalar (input optional from 18)."""
    return np.array(input is not None)


@kernel("OptionalGetElement", since=15)
def optional_get_element(input: Any) -> Any:
    """OptionalGetElement-15/18(input) -> output; a plain tensor/sequence passes through."""
    if input is None:
        raise ValueError("OptionalGetElement: the optional is empty")
    return input
