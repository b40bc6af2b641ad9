"""Constant folding: ops whose inputs are all constants are replaced by their results.

The pass does not compute anything itself: an ``evaluate(graph, node, inputs)`` callback
(the runtime's kernels, passed in by the caller) does, so ``ir`` stays free of kernels.
Named weights (parameters, buffers) are never folded into anonymous tensors, random ops
are never folded, and results much larger than their inputs stay computed at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Role, Value
from tensorbridge.ir.passes.base import PassReport

Evaluate = Callable[[Graph, Node, Sequence[Any]], Sequence[Any] | None]

_NEVER = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                    "Bernoulli", "Multinomial", "Dropout"})
_GROWTH_LIMIT = 1 << 20  # bytes a folded result may add beyond its largest input


def fold_constants(graph: Graph, evaluate: Evaluate, *, relayout_weights: bool = True) -> PassReport:
    """Fold nodes whose inputs are all constants. ``relayout_weights``: a layout op that is
    a named weight's only use is folded into the weight (same name and role, the graph's
    layout); a migration passes False so that every emitted weight keeps its source shape."""
    report = PassReport("fold_constants")
    for node in graph.nodes():
        ins = graph.node_inputs(node)
        if _static_shape_query(graph, node, ins, report):
            continue
        if not _foldable(graph, node, ins, relayout_weights):
            continue
        arrays = [v.const_array() if v is not None else None for v in ins]
        try:
            results = evaluate(graph, node, arrays)
        except Exception:  # folding is an optimisation: leave the op to fail at run time
            results = None
        if results is None or not _small_enough(arrays, results):
            continue
        for out, data in zip(graph.node_outputs(node), results):
            if out is None or not isinstance(data, np.ndarray):
                break
        else:
            weight = _named_weight_layout(graph, node, ins)
            _replace(graph, node, results, keep=weight)
            report.note(f"folded {node.name} ({node.op_type})")
    return report


# Ops that only re-lay out a weight: folding them into a named parameter keeps the
# parameter (same name, role and source key), stored in the layout the graph uses.
_LAYOUT = frozenset({"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten"})


def _named_weight_layout(graph: Graph, node: Node, ins: list[Value | None]) -> Value | None:
    """The parameter a layout op re-lays out, when it is that parameter's only use."""
    if node.op_type not in _LAYOUT or node.domain or not ins or ins[0] is None:
        return None
    w = ins[0]
    if not (w.is_const and (w.role is not Role.CONSTANT or w.source_name)):
        return None
    others = [v for v in ins[1:] if v is not None]
    if any(not (v.is_const and v.role is Role.CONSTANT) for v in others):
        return None
    if len(graph.consumers(w)) != 1 or w in graph.outputs:
        return None
    return w


def _foldable(graph: Graph, node: Node, ins: list[Value | None], relayout_weights: bool) -> bool:
    if node.op_type in _NEVER or node.subgraphs() or (node.domain, node.op_type) in graph.functions:
        return False
    if any(o is not None and o in graph.outputs for o in graph.node_outputs(node)):
        return False  # keep graph output names
    if _named_weight_layout(graph, node, ins) is not None:
        return relayout_weights
    present = [v for v in ins if v is not None]
    # a graph input with a default (an IR < 4 initializer) may be fed: not a constant here
    return all(v.is_const and v.role is Role.CONSTANT and not v.source_name and v not in graph.inputs
               for v in present)


def _static_shape_query(graph: Graph, node: Node, ins: list[Value | None], report: PassReport) -> bool:
    """Shape/Size of a value whose shape is fully static is a constant."""
    if node.op_type not in ("Shape", "Size") or node.domain or not ins or ins[0] is None:
        return False
    shape = ins[0].shape
    if shape is None or not all(isinstance(d, int) for d in shape):
        return False
    if any(o is not None and o in graph.outputs for o in graph.node_outputs(node)):
        return False
    if node.op_type == "Size":
        data = np.array(int(np.prod(cast("tuple[int, ...]", shape), dtype=np.int64)), np.int64)
    else:
        rank = len(shape)
        start, end = node.attr("start", 0), node.attr("end", rank)
        data = np.array(shape, np.int64)[slice(start, end)]
    _replace(graph, node, [data])
    report.note(f"folded {node.name} ({node.op_type} of a static shape)")
    return True


def _small_enough(arrays: list[Any], results: Sequence[Any]) -> bool:
    biggest = max((a.nbytes for a in arrays if isinstance(a, np.ndarray)), default=0)
    return all(not isinstance(r, np.ndarray) or r.nbytes <= biggest + _GROWTH_LIMIT for r in results)


def _replace(graph: Graph, node: Node, results: Sequence[np.ndarray], keep: Value | None = None) -> None:
    """Swap the op's outputs for constants; ``keep``: a named weight whose identity (name,
    role, source key) the (single) result takes over."""
    for out, data in zip(graph.node_outputs(node), results):
        if out is None:
            continue
        if keep is not None:
            name, role, source = keep.name, keep.role, keep.source_name
            graph.rename(keep, f"{name}_orig")
            const = graph.add_constant(name, np.asarray(data), role=role, source_name=source)
            const.doc = f"{node.op_type} of {source or name} folded in"
        else:
            const = graph.add_constant(f"{out.name}_folded", np.asarray(data))
        graph.replace_all_uses(out, const)
    graph.remove(node)
    if keep is not None and not graph.is_used(keep):
        graph.remove(keep)
