"""Functional control flow and tensor lists: ``If``/``StatelessIf`` -> ONNX If,
``While``/``StatelessWhile`` -> ONNX Loop, and the TensorList ops of Keras' RNN loop
(see control.py for how lists are represented). Each function's docstring is the TF op
signature.

A While loop becomes a Loop whose body is the TF body function translated into a
subgraph. Loop variables the body passes through unchanged (weights, the input sequence,
bounds) are not carried: the body reads them from the enclosing graph. When the condition
only compares counters that start at a known value and step by 1 against bounds the loop
does not change (``tf.while_loop(maximum_iterations=...)``, Keras' RNN loop), the trip count
is computed here (a constant, or from the run-time bounds) and becomes the Loop's ``M``
input, with no condition evaluated per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.converters.tensorflow.context import TfCtx, decode_attr
from tensorbridge.converters.tensorflow.control import (
    Body,
    FunctionLibrary,
    LoopFrame,
    ReservedList,
    ScanSlot,
    StackedList,
)
from tensorbridge.converters.tensorflow.registry import tf_op
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Role, Value
from tensorbridge.ir.types import TensorType


# ---------------------------------------------------------------- If
@tf_op("If", "StatelessIf")
def tf_if(ctx: TfCtx, cond: Value, *input: Any, then_branch: str, else_branch: str, **_: Any) -> Any:
    """If(cond: Tcond, input: Tin) -> output: Tout  (then_branch, else_branch: functions of
    ``input``; also StatelessIf)"""
    fns = _library(ctx)
    _tensors(ctx, input, "an If input")
    branches = {}
    for attr, fname in (("then_branch", then_branch), ("else_branch", else_branch)):
        sub = ctx.graph.subgraph(f"{ctx.name_base}_{attr.split('_')[0]}")
        outs = fns.call(fname, [_outer(sub, v) for v in input], sub)
        _set_outputs(ctx, sub, _tensors(ctx, outs, "an If result"))
        branches[attr] = sub
    n = ctx.n_outputs()
    if n == 0:
        return []
    outs = ctx.op("If", [_truth(ctx, cond)], branches, n_outputs=n)
    return outs if n > 1 else [outs]


# ---------------------------------------------------------------- While
@tf_op("While", "StatelessWhile")
def tf_while(ctx: TfCtx, *input: Any, cond: str, body: str, output_shapes: Any = None, **_: Any) -> list[Any]:
    """While(input: T) -> output: T  (cond, body: functions of the loop variables; also
    StatelessWhile)"""
    fns = _library(ctx)
    shapes = tuple(output_shapes) if output_shapes else None
    kinds, starts = _classify(ctx, fns.body(body, shapes), input)
    trip = _trip_count(ctx, fns.body(cond, shapes), input, kinds, starts)
    sub, items, at = _loop_body(ctx, fns, input, kinds, starts, trip, cond, body, shapes)
    carried = [j for j, k in enumerate(kinds) if k == "carried"]
    scans = [j for j, k in enumerate(kinds) if k == "scan"]
    if trip is None:
        cond_init = _truth(ctx, fns.call(cond, list(input), ctx.graph, shapes=shapes)[0])
        m: Value | None = None
    else:
        cond_init, m = ctx.const(np.bool_(True)), trip.count
    n_out = len(carried) + len(scans)
    loop = ctx.op("Loop", [m, cond_init, *(input[j] for j in carried)], {"body": sub}, n_outputs=n_out) \
        if n_out else None
    loop_outs = (loop if isinstance(loop, list) else [loop]) if loop is not None else []
    results: list[Any] = list(input)  # the invariants are what went in
    for k, j in enumerate(carried):
        results[j] = loop_outs[k]
    for k, j in enumerate(scans):
        stacked = loop_outs[len(carried) + k]
        if items[k].dtype is not None:
            item_shape = items[k].shape
            length = trip.static if trip is not None else None
            stacked.type = TensorType(items[k].dtype, None if item_shape is None else (length, *item_shape))
        results[j] = StackedList(_fill_reserved(ctx, stacked, input[j], trip) if at[k] is None
                                 else _last_item(ctx, stacked, input[j], at[k]))
    return results


def _loop_body(ctx: TfCtx, fns: FunctionLibrary, input: tuple[Any, ...], kinds: list[str],
               starts: dict[int, int], trip: _Trip | None, cond: str, body: str,
               shapes: Any) -> tuple[Graph, list[Value], list[int | None]]:
    """The Loop body: the TF body function translated with the carried variables as
    inputs, the invariants read from outside and the written lists as scan outputs (then
    the condition, unless the trip count ends the loop). Returns the subgraph, the item
    each scan output stacks, and the constant index a list is written at (None: the
    iteration index)."""
    sub = ctx.graph.subgraph(f"{ctx.name_base}_body")
    sub.add_input(f"{ctx.name_base}_iteration", DType.INT64, ())
    cond_in = sub.add_input(f"{ctx.name_base}_cond", DType.BOOL, ())
    frame = LoopFrame()
    args: list[Any] = []
    for j, v in enumerate(input):
        if kinds[j] == "invariant":
            args.append(_outer(sub, v))
        elif kinds[j] == "scan":
            args.append(ScanSlot(j))
        else:
            shape = shapes[j] if shapes is not None else (v.shape if v.type is not None else None)
            arg = sub.add_input(f"{ctx.name_base}_var{j}", TensorType(v.dtype, shape))
            if j in starts:
                frame.index_args[id(arg)] = starts[j]
            args.append(arg)
    outs = fns.call(body, args, sub, shapes=shapes, loop=frame)
    for j, kind in enumerate(kinds):
        if kind == "invariant":
            outs[j] = args[j]
    scans = [j for j, k in enumerate(kinds) if k == "scan"]
    items = [_written(ctx, outs[j], j) for j in scans]
    cond_out = cond_in if trip is not None else _truth(ctx, fns.call(cond, outs, sub, shapes=shapes)[0], sub)
    carried = _tensors(ctx, [outs[j] for j, k in enumerate(kinds) if k == "carried"], "a loop variable")
    _set_outputs(ctx, sub, [cond_out, *carried, *items])
    return sub, items, [outs[j].at for j in scans]


def _classify(ctx: TfCtx, b: Body, input: tuple[Any, ...]) -> tuple[list[str], dict[int, int]]:
    """Per loop variable: "invariant" (the body returns it unchanged), "scan" (a reserved
    list the body writes), or "carried"; and the start value of each carried counter that
    steps by 1 (the iteration index, offset by its start)."""
    kinds: list[str] = []
    starts: dict[int, int] = {}
    for j, v in enumerate(input):
        node, _ = b.source(b.rets[j])
        if node.op == "Placeholder" and node.name == b.args[j]:
            kinds.append("invariant")
        elif isinstance(v, ReservedList):
            kinds.append("scan")
        elif isinstance(v, StackedList):
            raise ctx.fail(f"loop variable {j} is a tensor list the loop replaces; only lists it "
                           "reads, or writes once per iteration at the iteration index, are supported")
        else:
            kinds.append("carried")
            start = _counter_start(ctx, b, j, node, v)
            if start is not None:
                starts[j] = start
    return kinds, starts


def _counter_start(ctx: TfCtx, b: Body, j: int, node: Any, init: Value) -> int | None:
    """The start of loop variable ``j`` if the body returns it plus 1, else None."""
    if node.op not in ("AddV2", "Add") or init.dtype not in (DType.INT32, DType.INT64):
        return None
    operands = {b.source(i)[0].name: b.source(i)[0] for i in node.input if not i.startswith("^")}
    if b.args[j] not in operands or len(node.input) != 2:
        return None
    other = next((n for name, n in operands.items() if name != b.args[j]), None)
    if other is None or other.op != "Const" or _const(other) != 1:
        return None
    start = ctx.static_value(init)
    return None if start is None or start.size != 1 else int(start.reshape(()))


@dataclass(frozen=True)
class _Trip:
    """The loop's exact iteration count: ``count`` (an int64 scalar Value, the Loop's M),
    known at conversion (``static``) or equal to one run-time value (``equals``)."""

    count: Value
    static: int | None = None
    equals: Value | None = None


def _trip_count(ctx: TfCtx, c: Body, input: tuple[Any, ...], kinds: list[str],
                starts: dict[int, int]) -> _Trip | None:
    """The exact number of iterations when the condition is a conjunction of
    ``counter < bound`` tests whose bounds the loop does not change (else None)."""
    terms: list[tuple[int, int | None, Value | None]] = []  # (start, static bound, run-time bound)

    def test(node: Any) -> bool:
        if node.op == "LogicalAnd":
            return all(test(c.source(i)[0]) for i in node.input if not i.startswith("^"))
        if node.op != "Less" or len(node.input) != 2:
            return False
        counter, bound = (c.source(i)[0] for i in node.input)
        j = c.args.index(counter.name) if counter.op == "Placeholder" and counter.name in c.args else -1
        if j not in starts:
            return False
        if bound.op == "Const":
            limit = _const(bound)
            if limit is None:
                return False
            terms.append((starts[j], limit, None))
            return True
        if bound.op != "Placeholder" or bound.name not in c.args or kinds[c.args.index(bound.name)] != "invariant":
            return False
        outer = input[c.args.index(bound.name)]
        value = ctx.static_value(outer)
        if value is not None and value.size == 1:
            terms.append((starts[j], int(value.reshape(())), None))
        elif isinstance(outer, Value) and outer.dtype in (DType.INT32, DType.INT64):
            terms.append((starts[j], None, outer))
        else:
            return False
        return True

    if not test(c.source(c.rets[0])[0]) or not terms:
        return None
    if all(static is not None for _, static, _ in terms):
        n = max(0, min(static - start for start, static, _ in terms))  # type: ignore[operator]
        return _Trip(ctx.const(np.int64(n)), static=n)
    counts = []  # a negative M runs no iteration, as TF's while does
    for start, static, bound in terms:
        if static is not None:
            counts.append(ctx.const(np.int64(static - start)))
            continue
        scalar = bound if bound.shape == () else ctx.squeeze(ctx.op("Reshape", [bound, ctx.ints([1])]), [0])
        count = ctx.cast(scalar, DType.INT64)
        counts.append(count if start == 0 else ctx.op("Sub", [count, ctx.const(np.int64(start))]))
    count = counts[0] if len(counts) == 1 else ctx.op("Min", counts)
    dynamic = {id(b): b for _, _, b in terms if b is not None}
    exact = next(iter(dynamic.values())) if len(dynamic) == 1 and all(
        start == 0 and static is None for start, static, _ in terms) else None
    if len(counts) > 1 and exact is not None:
        count = counts[0]  # the same bound everywhere: no Min
    return _Trip(count, equals=exact)


def _const(node: Any) -> int | None:
    """A Const node's value when it is one integer."""
    arr = decode_attr(node.attr["value"])
    return int(arr.reshape(())) if arr.size == 1 and np.issubdtype(arr.dtype, np.integer) else None


def _written(ctx: TfCtx, out: Any, j: int) -> Value:
    if not isinstance(out, ScanSlot) or out.var != j or out.item is None:
        raise ctx.fail(f"loop variable {j} is a reserved tensor list the body does not write "
                       "exactly once per iteration at the iteration index")
    return out.item


def _fill_reserved(ctx: TfCtx, stacked: Value, reserved: ReservedList, trip: _Trip | None) -> Value:
    """The loop's stacked items as the reserved list reads after the loop: at least
    ``num_elements`` items, the ones never written zeros (padded only when the counts may
    differ)."""
    n = ctx.static_value(reserved.num_elements)
    if trip is not None and (reserved.num_elements is trip.equals or (
            trip.static is not None and n is not None and int(n.reshape(())) == trip.static)):
        return stacked
    rank = stacked.shape and len(stacked.shape)
    if not rank:
        raise ctx.fail("the items written into a reserved tensor list need a known rank")
    length = ctx.op("Shape", [stacked], {"start": 0, "end": 1})
    n_items = ctx.op("Reshape", [ctx.cast(reserved.num_elements, DType.INT64), ctx.ints([1])])
    # a growing list (TensorArray(dynamic_size=True) reserves 0) holds what was written
    missing = ctx.op("Max", [ctx.op("Sub", [n_items, length]), ctx.ints([0])])
    pads = ctx.op("Concat", [ctx.ints([0] * rank), missing, ctx.ints([0] * (rank - 1))], {"axis": 0})
    out = ctx.op("Pad", [stacked, pads])
    out.type = stacked.type
    return out


def _last_item(ctx: TfCtx, stacked: Value, reserved: ReservedList, at: int) -> Value:
    """A one-item list the loop overwrites each iteration (Keras' RNN without
    return_sequences): the last item written, as a list of 1."""
    n = ctx.static_value(reserved.num_elements)
    if at != 0 or n is None or int(n.reshape(())) != 1:
        raise ctx.fail("a loop body that writes a constant index of a tensor list is supported "
                       "only for a list of one item")
    out = ctx.op("Slice", [stacked, ctx.ints([-1]), ctx.ints([np.iinfo(np.int64).max]), ctx.ints([0])])
    out.type = TensorType(stacked.dtype, None if stacked.shape is None else (1, *stacked.shape[1:]))
    return out


# ---------------------------------------------------------------- tensor lists
@tf_op("TensorListFromTensor")
def tf_tensor_list_from_tensor(ctx: TfCtx, tensor: Value, element_shape: Value, **_: Any) -> StackedList:
    """TensorListFromTensor(tensor: element_dtype, element_shape: shape_type) -> output_handle: variant"""
    return StackedList(tensor)


@tf_op("TensorListReserve")
def tf_tensor_list_reserve(ctx: TfCtx, element_shape: Value, num_elements: Value,
                           element_dtype: DType | None = None, **_: Any) -> ReservedList:
    """TensorListReserve(element_shape: shape_type, num_elements: int32) -> handle: variant"""
    return ReservedList(num_elements, element_dtype)


@tf_op("TensorListGetItem")
def tf_tensor_list_get_item(ctx: TfCtx, input_handle: Any, index: Value, element_shape: Value,
                            **_: Any) -> Value:
    """TensorListGetItem(input_handle: variant, index: int32, element_shape: int32) -> item: element_dtype"""
    return ctx.op("Gather", [_stacked(ctx, input_handle), index], {"axis": 0})


@tf_op("TensorListStack")
def tf_tensor_list_stack(ctx: TfCtx, input_handle: Any, element_shape: Value, **_: Any) -> Value:
    """TensorListStack(input_handle: variant, element_shape: int32) -> tensor: element_dtype"""
    return _stacked(ctx, input_handle)


@tf_op("TensorListLength")
def tf_tensor_list_length(ctx: TfCtx, input_handle: Any, **_: Any) -> Value:
    """TensorListLength(input_handle: variant) -> length: int32"""
    n = ctx.op("Shape", [_stacked(ctx, input_handle)], {"start": 0, "end": 1})
    return ctx.cast(ctx.squeeze(n, [0]), DType.INT32)


@tf_op("TensorListSetItem")
def tf_tensor_list_set_item(ctx: TfCtx, input_handle: Any, index: Value, item: Value, **_: Any) -> ScanSlot:
    """TensorListSetItem(input_handle: variant, index: int32, item: element_dtype) -> output_handle: variant"""
    frame = ctx.loop
    at = ctx.static_value(index)
    if not isinstance(input_handle, ScanSlot) or frame is None or (
            frame.index_args.get(id(index)) != 0 and (at is None or at.size != 1)):
        raise ctx.fail("only a While body writing a reserved tensor list at its iteration index "
                       "(a counter from 0, step 1) or at a constant index is supported")
    if input_handle.item is not None:
        raise ctx.fail("the loop body writes the same tensor list twice")
    input_handle.item = item
    if frame.index_args.get(id(index)) != 0 and at is not None:
        input_handle.at = int(at.reshape(()))
    return input_handle


# ---------------------------------------------------------------- helpers
def _library(ctx: TfCtx) -> FunctionLibrary:
    if ctx.functions is None:
        raise ctx.fail("control flow needs the graph's function library")
    return ctx.functions


def _stacked(ctx: TfCtx, handle: Any) -> Value:
    if not isinstance(handle, StackedList):
        raise ctx.fail("this tensor list is not a stacked tensor here (a list written inside a "
                       "loop is readable only after the loop)")
    return handle.tensor


def _tensors(ctx: TfCtx, values: Any, what: str) -> list[Value]:
    for v in values:
        if not isinstance(v, Value):
            raise ctx.fail(f"{what} is a tensor list; only tensors can cross an If or Loop boundary here")
    return list(values)


def _outer(sub: Graph, v: Any) -> Any:
    """``v`` (a value of the enclosing graph) as read from inside ``sub``."""
    if isinstance(v, StackedList):
        return StackedList(sub.add_outer_ref(v.tensor.name, v.tensor.type))
    if isinstance(v, Value):
        return sub.add_outer_ref(v.name, v.type)
    return v


def _truth(ctx: TfCtx, v: Value, graph: Graph | None = None) -> Value:
    """A condition as the bool scalar If/Loop take (TF tests a non-bool tensor != 0)."""
    if v.dtype == DType.BOOL:
        return v
    g = graph or ctx.graph
    out = g.add_op("Cast", [v], {"to": int(DType.BOOL)}, name=f"{ctx.name_base}_cond_Cast",
                   provenance=ctx.provenance, output_types=[TensorType(DType.BOOL, v.shape)])[0]
    return out


def _set_outputs(ctx: TfCtx, sub: Graph, outs: list[Value]) -> None:
    """Make ``outs`` the outputs of ``sub``; one that the subgraph does not compute itself
    (an outer value, an input or a constant, or a repeat) is passed through an Identity."""
    seen: set[int] = set()
    final = []
    for v in outs:
        if v.role is not Role.INTERMEDIATE or id(v) in seen:
            v = sub.add_op("Identity", [v], name=f"{ctx.name_base}_out_Identity",
                           provenance=ctx.provenance, output_types=[v.type])[0]
        seen.add(id(v))
        final.append(v)
    sub.set_outputs(final)
