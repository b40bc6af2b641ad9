"""Kernels: control flow. Bodies are IR graphs run through ``ctx.run_subgraph``, which binds
the enclosing scope's values (outer-scope references) for them."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir import scan_math as sm
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.types import TensorType
from tensorbridge.runtime.registry import KernelContext, kernel


def _subgraph_runner(ctx: KernelContext) -> Any:
    if ctx.run_subgraph is None:
        raise ValueError("this op needs a session that can run subgraphs")
    return ctx.run_subgraph


@kernel("If", since=1)
def if_(cond: np.ndarray, *, then_branch: Graph, else_branch: Graph, ctx: KernelContext) -> tuple[Any, ...]:
    """If(B cond) -> V outputs: runs one branch."""
    branch = then_branch if bool(np.asarray(cond).reshape(-1)[0]) else else_branch
    return tuple(_subgraph_runner(ctx)(branch, []))


@kernel("Loop", since=1)
def loop(M: np.ndarray | None, cond: np.ndarray | None, *v_initial: Any, body: Graph,
         ctx: KernelContext) -> tuple[Any, ...]:
    """Loop(I M, B cond, V v_initial...) -> V v_final_and_scan_outputs."""
    run = _subgraph_runner(ctx)
    max_trip = None if M is None else int(np.asarray(M).reshape(-1)[0])
    keep_going = True if cond is None else bool(np.asarray(cond).reshape(-1)[0])
    carried = list(v_initial)
    n_scan = len(body.outputs) - 1 - len(carried)
    scans: list[list[np.ndarray]] = [[] for _ in range(n_scan)]
    i = 0
    while keep_going and (max_trip is None or i < max_trip):
        outs = run(body, [np.array(i, dtype=np.int64), np.array(keep_going), *carried])
        keep_going = bool(np.asarray(outs[0]).reshape(-1)[0])
        carried = list(outs[1:1 + len(carried)])
        for acc, x in zip(scans, outs[1 + len(carried):]):
            acc.append(x)
        i += 1
    stacked = [_stack(acc, body.outputs[1 + len(carried) + k]) for k, acc in enumerate(scans)]
    return (*carried, *stacked)


def _stack(items: list[Any], out_value: Any, axis: int = 0) -> Any:
    if items:
        return np.stack([np.asarray(x) for x in items], axis=axis)
    t = out_value.type
    if isinstance(t, TensorType):
        dims = [d if isinstance(d, int) else 0 for d in (t.shape or ())]
        return np.empty([0, *dims], dtype=t.dtype.np_dtype)
    return np.empty((0,), dtype=np.float32)


class _NumpyScan:
    """:class:`~tensorbridge.ir.scan_math.ScanOps` for numpy arrays."""

    def take(self, x: np.ndarray, index: int, axis: int) -> np.ndarray:
        return np.take(x, index, axis=axis)

    def stack(self, items: list[Any], axis: int) -> np.ndarray:
        return np.stack([np.asarray(y) for y in items], axis=axis)

    def rank(self, y: Any) -> int:
        return int(np.ndim(y))

    def zeros(self, shape: list[int], dtype: DType | None) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32 if dtype is None else dtype.np_dtype)

    def pad_steps(self, y: np.ndarray, length: int) -> np.ndarray:
        return np.pad(y, [(0, length - y.shape[0])] + [(0, 0)] * (y.ndim - 1))


_NP_SCAN = _NumpyScan()


@kernel("Scan", since=9)
def scan(*inputs: np.ndarray, body: Graph, num_scan_inputs: int, scan_input_axes: list[int] | None = None,
         scan_input_directions: list[int] | None = None, scan_output_axes: list[int] | None = None,
         scan_output_directions: list[int] | None = None, ctx: KernelContext) -> tuple[Any, ...]:
    """Scan(V initial_state_and_scan_inputs...) -> V final_state_and_scan_outputs."""
    plan = sm.scan_plan(body, [np.shape(x) for x in inputs], num_scan_inputs=num_scan_inputs,
                        scan_input_axes=scan_input_axes, scan_input_directions=scan_input_directions,
                        scan_output_axes=scan_output_axes,
                        scan_output_directions=scan_output_directions)
    return tuple(sm.run_scan(plan, body, inputs, _subgraph_runner(ctx), _NP_SCAN))


@kernel("Scan", since=8)
def scan_8(sequence_lens: np.ndarray | None, *inputs: np.ndarray, body: Graph, num_scan_inputs: int,
           directions: list[int] | None = None, ctx: KernelContext) -> tuple[Any, ...]:
    """Scan-8(I sequence_lens, V initial_state_and_scan_inputs...): batch axis 0, time axis 1."""
    lens = None if sequence_lens is None else np.asarray(sequence_lens).reshape(-1).tolist()
    plan = sm.scan8_plan(body, [np.shape(x) for x in inputs], lens,
                         num_scan_inputs=num_scan_inputs, directions=directions)
    return tuple(sm.run_scan_8(plan, body, inputs, _subgraph_runner(ctx), _NP_SCAN))


@kernel("SequenceMap", since=17)
def sequence_map(input_sequence: list[np.ndarray], *additional_inputs: Any, body: Graph,
                 ctx: KernelContext) -> tuple[list[Any], ...]:
    """SequenceMap(S input_sequence, V additional_inputs...) -> S out_sequence..."""
    run = _subgraph_runner(ctx)
    n_out = len(body.outputs)
    outs: list[list[Any]] = [[] for _ in range(n_out)]
    for i, x in enumerate(input_sequence):
        extra = [a[i] if isinstance(a, list) else a for a in additional_inputs]
        for acc, y in zip(outs, run(body, [x, *extra])):
            acc.append(y)
    return tuple(outs)
