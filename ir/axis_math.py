"""Axis, position, slice and broadcast rules of the ONNX spec, written once for every layer
(the runtime's kernels and the PyTorch / TensorFlow emitters).

Pure functions over ints and shapes. A rank or dim the caller does not know statically (an
emitter tracing a dynamic graph) is passed as ``None`` (dims may also be symbolic objects):
the static range check is then skipped and only what can be computed is. Every violation
raises ``ValueError`` naming the op, the attribute and the values, e.g.
``Gather: axis 3 is out of range for a rank-2 input; expected -2 <= axis < 2``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Dim = Any  # an int when known, else None or a symbolic size (SymInt, tf scalar tensor)


def _prefix(op: str) -> str:
    return f"{op}: " if op else ""


def norm_axis(axis: int, rank: int | None, op: str = "", name: str = "axis", *,
              allow_rank: bool = False) -> int:
    """``axis`` in [-rank, rank) (``allow_rank``: [-rank, rank], as Flatten's) counted from 0.
    With an unknown rank a non-negative axis is returned unchecked."""
    if rank is None:
        if axis < 0:
            raise ValueError(f"{_prefix(op)}{name} {axis} counts from the back, which needs the "
                             "input's rank; give the input a shape (its rank) before converting")
        return axis
    hi = rank if allow_rank else rank - 1
    if not -rank <= axis <= hi:
        bound = f"{name} <= {rank}" if allow_rank else f"{name} < {rank}"
        raise ValueError(f"{_prefix(op)}{name} {axis} is out of range for a rank-{rank} input; "
                         f"expected {-rank} <= {bound}")
    return axis + rank if axis < 0 else axis


def norm_axes(axes: Sequence[int], rank: int | None, op: str = "", name: str = "axes") -> list[int]:
    """Each of ``axes`` normalised by :func:`norm_axis`; an axis named twice is refused."""
    out = [norm_axis(int(a), rank, op, name) for a in axes]
    if len(set(out)) != len(out):
        raise ValueError(f"{_prefix(op)}{name} {list(axes)} name an axis more than once "
                         f"(rank {rank}); list each axis once")
    return out


def unsqueeze_axes(axes: Sequence[int], in_rank: int | None, op: str = "Unsqueeze") -> list[int]:
    """Unsqueeze's axes, ascending, counted against the *output* rank (input rank + number of
    axes): inserting size-1 dims in this order puts each at its final position."""
    out_rank = None if in_rank is None else in_rank + len(axes)
    return sorted(norm_axes(axes, out_rank, op, "axes"))


def unsqueeze_shape(shape: Sequence[Dim], axes: Sequence[int], op: str = "Unsqueeze") -> list[Dim]:
    """The output shape of Unsqueeze(shape, axes)."""
    out = list(shape)
    for a in unsqueeze_axes(axes, len(shape), op):
        out.insert(a, 1)
    return out


def norm_index(index: int, size: int, op: str = "", name: str = "index") -> int:
    """An element index in [-size, size-1] (Gather's indices) counted from 0."""
    if not -size <= index < size:
        raise ValueError(f"{_prefix(op)}{name} {index} is out of range for a dimension of size "
                         f"{size}; expected {-size} <= {name} < {size}")
    return index + size if index < 0 else index


def sequence_position(position: int, length: int, op: str, *, insert: bool = False) -> int:
    """A sequence position in [-n, n-1] (``insert``: [-n, n], n meaning "at the end") counted
    from 0, as SequenceAt / SequenceErase / SequenceInsert take it."""
    hi = length if insert else length - 1
    if not -length <= position <= hi:
        raise ValueError(f"{_prefix(op)}position {position} is out of range for a sequence of "
                         f"length {length}; expected {-length} <= position <= {hi}")
    return position + length if position < 0 else position


def _clamp(v: Any, lo: Any, hi: Any) -> Any:
    return min(max(v, lo), hi)


def slice_bounds(start: Any, end: Any, step: int, dim: Dim, op: str = "Slice", *,
                 clamp: Callable[[Any, Any, Any], Any] = _clamp) -> tuple[Any, Any]:
    """ONNX Slice's (start, end) on one axis of size ``dim``: negative values count from the
    back, then with step > 0 both clamp into [0, dim]; with step < 0 start clamps into
    [0, dim-1] and end into [-1, dim-1], where -1 means "through index 0" (Python spells it
    ``None``: see :func:`python_slice`). ``clamp(v, lo, hi)`` lets a tracer pass symbolic
    min/max. With an unknown dim (None) the values are returned as given."""
    if step == 0:
        raise ValueError(f"{_prefix(op)}steps must not be 0")
    if dim is None:
        return start, end
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        return clamp(start, 0, dim), clamp(end, 0, dim)
    return clamp(start, 0, dim - 1), clamp(end, -1, dim - 1)


def python_slice(start: int, end: int, step: int, dim: int, op: str = "Slice") -> slice:
    """The Python ``slice`` selecting what ONNX Slice selects on an axis of size ``dim``."""
    start, end = slice_bounds(start, end, step, dim, op)
    return slice(start, None if end < 0 else end, step)


def legacy_trailing_ones(a_rank: int, b_rank: int, axis: int | None, op: str) -> int:
    """Opset < 7 ``broadcast=1``: B, a contiguous run of A's dims, is aligned with A from
    ``axis`` (absent: A's suffix). The number of size-1 dims B needs appended so that
    numpy-style broadcasting lines it up there."""
    if axis is None or b_rank == 0:
        return 0
    start = norm_axis(axis, a_rank, op, "axis")
    trailing = a_rank - start - b_rank
    if trailing < 0:
        raise ValueError(f"{_prefix(op)}B of rank {b_rank} does not fit in rank-{a_rank} A from "
                         f"axis {axis}; expected axis <= {a_rank - b_rank}")
    return trailing


def legacy_broadcast_shape(a_rank: int, b_shape: Sequence[Dim], axis: int | None,
                           op: str) -> list[Dim]:
    """The shape B is reshaped to for opset < 7 ``broadcast=1`` with ``axis`` (see
    :func:`legacy_trailing_ones`)."""
    return list(b_shape) + [1] * legacy_trailing_ones(a_rank, len(b_shape), axis, op)


def _broadcast_dim(a: Dim, b: Dim, shapes: tuple[Sequence[Dim], ...], op: str) -> Dim:
    a_known, b_known = isinstance(a, int), isinstance(b, int)
    if a_known and a == 1:
        return b
    if b_known and b == 1:
        return a
    if a_known and b_known:
        if a != b:
            raise ValueError(f"{_prefix(op)}shapes {' and '.join(str(list(s)) for s in shapes)} "
                             f"do not broadcast ({a} against {b}); each dim pair must be equal "
                             "or contain a 1")
        return a
    if a_known:
        return a
    if b_known:
        return b
    return a if a is b else None


def broadcast_shape(*shapes: Sequence[Dim], op: str = "") -> list[Dim]:
    """Multidirectional (numpy-style) broadcasting of ``shapes``, aligned from the last dim.
    A dim that is not an int is unknown: it gives way to a known dim other than 1, and two
    unknown dims give None (unless they are the same object)."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = [1] * rank
    for s in shapes:
        padded = [1] * (rank - len(s)) + list(s)
        out = [_broadcast_dim(o, d, shapes, op) for o, d in zip(out, padded, strict=True)]
    return out


def flatten_dims(shape: Sequence[Dim], axis: int, op: str = "Flatten") -> tuple[Dim, Dim]:
    """(rows, cols) of ``shape`` flattened to 2-D at ``axis`` in [-r, r], as Flatten and the
    opset < 13 Softmax family do; None where a dim is unknown."""
    a = norm_axis(axis, len(shape), op, "axis", allow_rank=True)
    return _product(shape[:a]), _product(shape[a:])


def _product(dims: Sequence[Dim]) -> Dim:
    n = 1
    for d in dims:
        if not isinstance(d, int):
            return None
        n *= d
    return n
