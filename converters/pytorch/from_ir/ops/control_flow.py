"""Control-flow emitters: If, Loop, Scan, SequenceMap. Bodies are IR graphs run through
``ctx.run_subgraph`` (the enclosing scope's values bound).

If on a host condition is a Python ``if``. On a tensor condition it is a Python ``if``
eagerly, and ``torch.cond`` under ``torch.export`` / ``torch.compile`` (a data-dependent
branch cannot be decided while tracing) whenever both branches give tensors of one dtype.
Loops run in Python: the trip count and condition are read from the data eagerly; under
export they unroll when both are host values (constants and shape arithmetic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import Host, T, ints, scalar
from tensorbridge.converters.pytorch.from_ir.ops.shape import (
    dims_of,
    is_traced,
    pack,
)
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir import scan_math as sm
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.types import TensorType

Runner = Callable[[Graph, list[Any]], list[Any]]


def _runner(ctx: EmitContext) -> Runner:
    if ctx.run_subgraph is None:
        raise ValueError("this op needs an interpreter that can run subgraphs")
    return ctx.run_subgraph


def _same_tensor_types(a: Graph, b: Graph) -> bool:
    """The branches may be joined by torch.cond: no output is known to be a sequence or
    optional, and paired outputs do not differ in a known dtype or rank."""
    for x, y in zip(a.outputs, b.outputs, strict=True):
        tx, ty = x.type, y.type
        if any(t is not None and not isinstance(t, TensorType) for t in (tx, ty)):
            return False
        if isinstance(tx, TensorType) and isinstance(ty, TensorType) and (
                tx.dtype != ty.dtype or None not in (tx.rank, ty.rank) and tx.rank != ty.rank):
            return False
    return True


def _traced_if(cond: Any, then_branch: Graph, else_branch: Graph, run: Runner) -> list[Any]:
    def branch(g: Graph) -> Callable[[], list[Any]]:
        return lambda: [T(v) for v in run(g, [])]

    pred = cond.reshape(())
    if isinstance(cond, torch.fx.Proxy):
        # fx tracing has no torch.cond: compute both branches and select.
        return [torch.where(pred, a, b) for a, b in
                zip(branch(then_branch)(), branch(else_branch)(), strict=True)]
    return list(torch.cond(pred, branch(then_branch), branch(else_branch), ()))


@emits("If", since=1)
def if_(cond: Any, *, then_branch: Graph, else_branch: Graph, ctx: EmitContext) -> Any:
    """If(B cond) -> V outputs: runs one branch."""
    run = _runner(ctx)
    if (isinstance(cond, torch.Tensor | torch.fx.Proxy) and is_traced(cond)
            and _same_tensor_types(then_branch, else_branch)):
        return pack(_traced_if(cond, then_branch, else_branch, run), ctx)
    # Eager (or branches torch.cond cannot join, e.g. sequences): decide in Python.
    take = bool(scalar(cond))
    return pack(run(then_branch if take else else_branch, []), ctx)


def _empty_scan(out_type: Any) -> Any:
    """The scan output of zero iterations: [0, *element shape] (unknown dims taken as 0)."""
    if isinstance(out_type, TensorType):
        dims = [d if isinstance(d, int) else 0 for d in (out_type.shape or ())]
        return torch.empty([0, *dims], dtype=torch_dtype(out_type.dtype))
    return torch.empty(0)


@emits("Loop", since=1)
def loop(M: Any, cond: Any, *v_initial: Any, body: Graph, ctx: EmitContext) -> Any:
    """Loop(I M, B cond, V v_initial...) -> V v_final_and_scan_outputs."""
    run = _runner(ctx)
    max_trip = None if M is None else scalar(M)
    keep_going = True if cond is None else bool(scalar(cond))
    carried = list(v_initial)
    n = len(carried)
    scans: list[list[Any]] = [[] for _ in range(len(body.outputs) - 1 - n)]
    i = 0
    while keep_going and (max_trip is None or i < max_trip):
        # The iteration number and condition go in as host values: index arithmetic on
        # them (Add, Unsqueeze, Slice...) stays Python.
        outs = run(body, [Host.of(i, torch.int64), Host.of(keep_going, torch.bool), *carried])
        keep_going = bool(scalar(outs[0]))
        carried = list(outs[1:1 + n])
        for acc, y in zip(scans, outs[1 + n:], strict=True):
            acc.append(T(y))
        i += 1
    stacked = [torch.stack(acc) if acc else _empty_scan(body.outputs[1 + n + k].type)
               for k, acc in enumerate(scans)]
    return pack([*carried, *stacked], ctx)


class _TorchScan:
    """:class:`~tensorbridge.ir.scan_math.ScanOps` for torch tensors (host values are
    materialised where a tensor is needed)."""

    def take(self, x: Any, index: int, axis: int) -> Any:
        return T(x).select(axis, index)

    def stack(self, items: list[Any], axis: int) -> Any:
        return torch.stack([T(y) for y in items], dim=axis)

    def rank(self, y: Any) -> int:
        return int(T(y).dim())

    def zeros(self, shape: list[int], dtype: DType | None) -> Any:
        return torch.zeros(shape, dtype=torch.float32 if dtype is None else torch_dtype(dtype))

    def pad_steps(self, y: Any, length: int) -> Any:
        y = T(y)
        return torch.nn.functional.pad(y, [0, 0] * (y.dim() - 1) + [0, length - y.shape[0]])


_TORCH_SCAN = _TorchScan()


def _shapes(inputs: tuple[Any, ...], ctx: EmitContext, first: int) -> list[list[Any]]:
    """The inputs' dims for the scan plan; a symbolic size is read as its traced value (the
    steps unroll in Python, so they are specialised anyway)."""
    return [[int(d) if isinstance(d, torch.SymInt) else d for d in dims_of(x, ctx, first + i)]
            for i, x in enumerate(inputs)]


@emits("Scan", since=9)
def scan(*inputs: Any, body: Graph, num_scan_inputs: int,
         scan_input_axes: tuple[int, ...] | None = None,
         scan_input_directions: tuple[int, ...] | None = None,
         scan_output_axes: tuple[int, ...] | None = None,
         scan_output_directions: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Scan(V initial_state_and_scan_inputs...) -> V final_state_and_scan_outputs."""
    plan = sm.scan_plan(body, _shapes(inputs, ctx, 0), num_scan_inputs=num_scan_inputs,
                        scan_input_axes=scan_input_axes, scan_input_directions=scan_input_directions,
                        scan_output_axes=scan_output_axes,
                        scan_output_directions=scan_output_directions)
    return pack(sm.run_scan(plan, body, inputs, _runner(ctx), _TORCH_SCAN), ctx)


# Separate: Scan-8 has a batch axis and a sequence_lens input, which 9 dropped.
@emits("Scan", since=8)
def scan_8(sequence_lens: Any, *inputs: Any, body: Graph, num_scan_inputs: int,
           directions: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Scan-8(I sequence_lens, V initial_state_and_scan_inputs...): batch axis 0, time axis 1."""
    lens = None if sequence_lens is None else ints(sequence_lens)
    plan = sm.scan8_plan(body, _shapes(inputs, ctx, 1), lens, num_scan_inputs=num_scan_inputs,
                         directions=directions)
    return pack(sm.run_scan_8(plan, body, inputs, _runner(ctx), _TORCH_SCAN), ctx)


@emits("SequenceMap", since=17)
def sequence_map(input_sequence: list[Any], *additional_inputs: Any, body: Graph,
                 ctx: EmitContext) -> Any:
    """SequenceMap(S input_sequence, V additional_inputs...) -> S out_sequence..."""
    run = _runner(ctx)
    outs: list[list[Any]] = [[] for _ in body.outputs]
    for i, x in enumerate(input_sequence):
        extra = [a[i] if isinstance(a, list) else a for a in additional_inputs]
        for acc, y in zip(outs, run(body, [x, *extra]), strict=True):
            acc.append(T(y))
    return pack(outs, ctx)
