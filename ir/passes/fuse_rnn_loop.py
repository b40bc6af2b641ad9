"""Replace a Loop that runs one LSTM, GRU or simple RNN cell step per item of a sequence
with the ONNX LSTM / GRU / RNN op.

TensorFlow has no LSTM or GRU op: a Keras recurrent layer is a While loop over time whose
body is the cell, and the front-end turns it into a Loop. ONNX's LSTM and GRU compute the
same recurrences in one op, which runtimes run as a fused kernel and which the migration
back-ends emit as the framework's own recurrent op.

A Loop is replaced only when its structure proves the semantics: a trip count equal to
the sequence length, the item read at the iteration index from an outer tensor, every
body op part of the cell (or a counter), the cell's weights initializers of an enclosing
graph, and the hidden state the only scan output. The cells are recognised by
``rnn_cells.py``, gates by their role in the recurrence, so any gate order is read right.

Weights are re-laid out to ONNX's (gate order iofc / zrh, ``[1, G*H, in]``): as new
initializers keeping the weight's name and role, or, with ``keep_weights``, as graph ops
over the original weights, so that a migration keeps the source's trainable layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.rnn_cells import (
    Cell,
    LoopBody,
    Part,
    const_ints,
    const_scalar,
    gru_cell,
    lstm_cell,
    rnn_cell,
)
from tensorbridge.ir.types import TensorType

_GATES = {"LSTM": ("i", "o", "f", "c"), "GRU": ("z", "r", "h"), "RNN": ("i",)}
_DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}


def fuse_rnn_loops(graph: Graph, *, keep_weights: bool = False) -> PassReport:
    report = PassReport("fuse_rnn_loops")
    for node in graph.nodes():
        for sub in node.subgraphs():
            for detail in fuse_rnn_loops(sub, keep_weights=keep_weights).details:
                report.note(detail)
        if node.op_type == "Loop" and not node.domain:
            cell = _match(graph, node)
            if cell is not None:
                _rewrite(graph, node, cell, keep_weights)
                report.note(f"Loop {node.name} -> {cell.op} (hidden {cell.hidden})")
    return report


# ---------------------------------------------------------------- the loop
def _match(g: Graph, loop: Node) -> Cell | None:
    b = LoopBody(g, loop)
    loop_ins = g.node_inputs(loop)
    trip = const_scalar(loop_ins[0])
    if loop_ins[0] is None or const_scalar(loop_ins[1]) != 1.0 or b.n_vars < 2:
        return None
    if b.through_identity(b.outs[0]) is not b.ins[1]:
        return None  # the condition must stay true: the trip count alone ends the loop
    counters = _counters(b, loop_ins[2:])
    cell = lstm_cell(b, counters) or gru_cell(b, counters) or rnn_cell(b, counters)
    if cell is None:
        return None
    gather = b.producer(cell.x_t, "Gather")
    if gather is None or gather.attr("axis", 0) != 0:
        return None
    seq, index = b.operands(gather)
    x = b.outer_value(seq)
    if x is None or b.var_index(index) not in counters or x.shape is None or len(x.shape) != 3 \
            or cell.kernel.data().shape[0] != x.shape[2]:
        return None
    if trip != x.shape[0] and not (trip is None and _is_length(g, loop_ins[0], x)):
        return None  # the loop must run once per item of the sequence
    h_new = b.through_identity(b.outs[1 + cell.h_var])
    scans = list(range(b.n_vars + 1, len(b.outs)))
    if any(b.through_identity(b.outs[k]) is not h_new for k in scans):
        return None
    passthrough = (h_new, b.ins[1], *b.counter_outs(counters))
    matched = cell.nodes | {gather, *counters.values()}
    if any(n not in matched and not (n.op_type == "Identity" and b.through_identity(b.out(n)) in passthrough)
           for n in b.body.nodes()):
        return None
    # every other variable is a counter, whose final value nobody reads after the loop
    loop_outs = g.node_outputs(loop)
    for j in range(b.n_vars):
        out = loop_outs[j]
        if j not in (cell.h_var, cell.c_var) and (
                j not in counters or (out is not None and (g.is_used(out) or out in g.outputs))):
            return None
    cell.x, cell.scans = x, scans
    return cell


_SCALAR_VIEWS = frozenset({"Cast", "Squeeze", "Unsqueeze", "Reshape", "Identity"})


def _is_length(g: Graph, v: Value | None, x: Value) -> bool:
    """``v`` is the run-time ``x.shape[0]``: a Shape of ``x`` sliced (or gathered) at 0,
    through casts and rank changes of the one element."""
    while v is not None and (p := g.producer(v)) is not None and p.op_type in _SCALAR_VIEWS and not p.domain:
        v = g.node_inputs(p)[0]
    p = g.producer(v) if v is not None else None
    if p is None or p.domain:
        return False
    ins = g.node_inputs(p)
    if p.op_type == "Shape":
        return ins[0] is x and p.attr("start", 0) == 0 and p.attr("end", None) == 1
    if p.op_type == "Slice" and len(ins) >= 3:
        axes = const_ints(ins[3]) if len(ins) > 3 and ins[3] is not None else [0]
        steps = const_ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1]
        if const_ints(ins[1]) != [0] or const_ints(ins[2]) != [1] or axes != [0] or steps != [1]:
            return False
    elif p.op_type == "Gather":
        if p.attr("axis", 0) != 0 or const_scalar(ins[1]) != 0.0:
            return False
    else:
        return False
    shape = ins[0]
    while shape is not None and (q := g.producer(shape)) is not None and q.op_type == "Cast":
        shape = g.node_inputs(q)[0]
    q = g.producer(shape) if shape is not None else None
    return q is not None and q.op_type == "Shape" and not q.domain and q.attr("start", 0) == 0 \
        and g.node_inputs(q)[0] in (x, _reversed_from(g, x))


def _reversed_from(g: Graph, x: Value) -> Value | None:
    """What ``x`` reverses along axis 0 (a full Slice with step -1: same length), else None."""
    p = g.producer(x)
    ins = g.node_inputs(p) if p is not None and p.op_type == "Slice" and not p.domain else []
    if len(ins) < 5:
        return None
    ends = const_ints(ins[2])
    if const_ints(ins[1]) != [-1] or const_ints(ins[3]) != [0] or const_ints(ins[4]) != [-1] or ends is None \
            or ends[0] > -(1 << 31):
        return None
    return ins[0]


def _counters(b: LoopBody, inits: Sequence[Value | None]) -> dict[int, Node]:
    """Loop variables that start at 0 and step by 1 (the iteration index): their Add."""
    out = {}
    for j in range(b.n_vars):
        step = b.producer(b.through_identity(b.outs[1 + j]), "Add")
        if step is None or const_scalar(inits[j]) != 0.0:
            continue
        ops = b.operands(step)
        if b.ins[2 + j] in ops and any(const_scalar(v) == 1.0 for v in ops):
            out[j] = step
    return out


# ---------------------------------------------------------------- rewrite
def _rewrite(g: Graph, loop: Node, cell: Cell, keep_weights: bool) -> None:
    h, gates = cell.hidden, _GATES[cell.op]
    assert cell.x is not None

    def order(blocks: dict[str, int]) -> np.ndarray:
        return np.concatenate([np.arange(blocks[k] * h, (blocks[k] + 1) * h) for k in gates])

    prov, base = loop.provenance, loop.name
    x_order, h_order = order(cell.x_blocks), order(cell.h_blocks)
    W = _relaid_kernel(g, cell.kernel, x_order, keep_weights, base)
    R = _relaid_kernel(g, cell.recurrent, h_order, keep_weights, base)
    biases = [(cell.x_bias, x_order), (cell.h_bias, h_order)]
    B = _relaid_bias(g, biases, len(gates) * h, keep_weights, base)
    loop_ins = g.node_inputs(loop)
    axes0 = g.add_constant(f"{base}_axes0", np.array([0], np.int64))
    states = [cell.h_var] + ([cell.c_var] if cell.c_var is not None else [])
    inits = [None if _zeros(g, loop_ins[2 + j]) else
             g.add_op("Unsqueeze", [loop_ins[2 + j], axes0], name=f"{base}_state0", provenance=prov)[0]
             for j in states]
    attrs: dict[str, object] = {"hidden_size": h, **cell.attrs}
    if cell.activations != _DEFAULT_ACTIVATIONS[cell.op]:
        attrs["activations"] = cell.activations
    ys = g.add_op(cell.op, [cell.x, W, R, B, None, *inits], attrs, name=f"{base}_{cell.op}",
                  n_outputs=1 + len(states), provenance=prov)
    outs = g.node_outputs(loop)
    axes1 = g.add_constant(f"{base}_axes1", np.array([1], np.int64))
    replaced = [(outs[j], y, axes0) for j, y in zip(states, ys[1:])] + [(outs[k - 1], ys[0], axes1) for k in cell.scans]
    for old, new, axes in replaced:
        if old is None or not (g.is_used(old) or old in g.outputs):
            continue
        dtype = cell.x.dtype
        squeezed = g.add_op("Squeeze", [new, axes], name=f"{base}_squeeze", provenance=prov,
                            output_types=[TensorType(dtype, old.shape) if dtype is not None else None])[0]
        name = old.name
        g.replace_all_uses(old, squeezed)
        g.rename(old, f"{name}_loop")
        g.rename(squeezed, name)  # a graph output keeps its name
    g.remove(loop, force=True)
    bias_src = next((p.value for p, _ in biases if p is not None), None)
    pairs = [(cell.kernel.value, W), (cell.recurrent.value, R), (bias_src, B)]
    for weight, relaid in pairs:  # the re-laid-out copy takes the weight's name once it is unused
        if weight is not None and relaid is not None and relaid.is_const and g.has_value(weight.name) \
                and g.value(weight.name) is weight and not _read_anywhere(g, weight):
            name = weight.name
            g.remove(weight)
            g.rename(relaid, name)


def _read_anywhere(g: Graph, v: Value) -> bool:
    return g.is_used(v) or v in g.outputs or any(
        v.name in sub.outer_names() for n in g.nodes() for sub in n.subgraphs())


def _local(g: Graph, v: Value) -> Value:
    """``v`` (an initializer of ``g``, of an enclosing graph, or of the removed body) as
    read in ``g``."""
    if g.has_value(v.name) and g.value(v.name) is v:
        return v
    outer: Graph | None = g.parent
    while outer is not None:
        if outer.has_value(v.name) and outer.value(v.name) is v:
            return g.add_outer_ref(v.name, v.type)
        outer = outer.parent
    return g.add_constant(v.name, v.const_array(), role=v.role, source_name=v.source_name)


def _row(g: Graph, part: Part, base: str) -> Value:
    src = _local(g, part.value)
    if part.row is None:
        return src
    index = g.add_constant(f"{base}_row", np.array(part.row, np.int64))
    return g.add_op("Gather", [src, index], {"axis": 0}, name=f"{base}_row")[0]


def _relaid_kernel(g: Graph, part: Part, order: np.ndarray, keep_weights: bool, base: str) -> Value:
    """A [in, G*H] kernel as ONNX's [1, G*H, in] in ONNX gate order."""
    w = part.value
    if not keep_weights:
        data = np.ascontiguousarray(part.data()[:, order].T[None])
        return g.add_constant(w.name, data, role=w.role, source_name=w.source_name)
    idx = g.add_constant(f"{base}_gate_order", order.astype(np.int64))
    cols = g.add_op("Gather", [_row(g, part, base), idx], {"axis": 1}, name=f"{base}_gates")[0]
    rows = g.add_op("Transpose", [cols], {"perm": [1, 0]}, name=f"{base}_transpose")[0]
    return g.add_op("Unsqueeze", [rows, g.add_constant(f"{base}_axes", np.array([0], np.int64))],
                    name=f"{base}_unsqueeze")[0]


def _relaid_bias(g: Graph, parts: list[tuple[Part | None, np.ndarray]], size: int, keep_weights: bool,
                 base: str) -> Value | None:
    """The input and recurrent biases as ONNX's [1, 2*G*H] (zeros for a missing one)."""
    present = [p for p, _ in parts if p is not None]
    if not present:
        return None
    first = present[0]
    dtype = first.data().dtype
    if not keep_weights:
        data = np.concatenate([p.data()[o] if p is not None else np.zeros(size, dtype) for p, o in parts])[None]
        w = first.value
        return g.add_constant(w.name, data, role=w.role, source_name=w.source_name)
    pieces = []
    for p, o in parts:
        if p is None:
            pieces.append(g.add_constant(f"{base}_zero_bias", np.zeros(size, dtype)))
            continue
        idx = g.add_constant(f"{base}_gate_order", o.astype(np.int64))
        pieces.append(g.add_op("Gather", [_row(g, p, base), idx], {"axis": 0}, name=f"{base}_bias_gates")[0])
    full = g.add_op("Concat", pieces, {"axis": 0}, name=f"{base}_bias")[0]
    return g.add_op("Unsqueeze", [full, g.add_constant(f"{base}_axes", np.array([0], np.int64))],
                    name=f"{base}_bias_unsqueeze")[0]


def _zeros(g: Graph, v: Value | None) -> bool:
    """``v`` is all zeros (LSTM's default initial state): a constant, or a zero broadcast
    to a run-time shape (Keras' ``tf.zeros((batch, units))``)."""
    p = g.producer(v) if v is not None else None
    if p is not None and p.op_type in ("Expand", "ConstantOfShape") and not p.domain:
        fill = g.node_inputs(p)[0] if p.op_type == "Expand" else None
        if p.op_type == "ConstantOfShape":
            value = p.attr("value", None)
            return value is None or not np.any(np.asarray(value))
        return fill is not None and fill.is_const and not np.any(fill.const_array())
    return v is not None and v.is_const and not np.any(v.const_array())
