"""Replace a Loop that runs one LSTM cell step per item of a sequence with the ONNX LSTM op.

TensorFlow has no LSTM op: a Keras LSTM layer is a While loop over time whose body is the
cell (one MatMul for the input, one for the state, a bias, a 4-way split, the gates), and
the front-end turns it into a Loop. ONNX's LSTM computes the same recurrence in one op,
which every runtime runs as a fused kernel and which the migration back-ends emit as the
framework's own LSTM.

A Loop is replaced only when its structure proves the semantics: a trip count equal to
the sequence length, the item read at the iteration index from an outer tensor, every
body op part of the cell (or a counter), the cell's weights constants of the enclosing
graph, and the hidden state the only scan output. Gates are identified by their role in
the recurrence (the one multiplying the old cell state is the forget gate, the one
multiplying tanh of the new state the output gate), not by their position, so any gate
order in the weights is read correctly. Weights are re-laid out to ONNX's (iofc order,
``[1, 4H, in]``): as new initializers keeping the weight's name and role, or, with
``keep_weights``, as graph ops over the original weights, so that a migration keeps the
source's trainable layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ir.graph import Graph
from ir.node import Node, Role, Value
from ir.passes.base import PassReport
from ir.types import TensorType

_ACTIVATIONS = {"Sigmoid": "Sigmoid", "Tanh": "Tanh", "Relu": "Relu"}
_ONNX_GATES = ("i", "o", "f", "c")


def fuse_rnn_loops(graph: Graph, *, keep_weights: bool = False) -> PassReport:
    report = PassReport("fuse_rnn_loops")
    for node in graph.nodes():
        for sub in node.subgraphs():
            for detail in fuse_rnn_loops(sub, keep_weights=keep_weights).details:
                report.note(detail)
        if node.op_type == "Loop" and not node.domain:
            cell = _match_lstm(graph, node)
            if cell is not None:
                _rewrite(graph, node, cell, keep_weights)
                report.note(f"Loop {node.name} -> LSTM (hidden {cell.hidden})")
    return report


@dataclass
class _Lstm:
    x: Value  # the sequence, [T, batch, input]
    kernel: Value  # [input, 4H]
    recurrent: Value  # [H, 4H]
    bias: Value | None  # [4H]
    slots: dict[str, int]  # gate -> its block in the kernels' 4H axis
    h_var: int  # loop-carried variable positions
    c_var: int
    activations: tuple[str, str, str]  # ONNX f, g, h
    hidden: int
    scans: list[int]  # scan outputs (all the hidden state)


class _Body:
    """Queries on a Loop body and the graph around it."""

    def __init__(self, graph: Graph, loop: Node) -> None:
        self.g, self.loop = graph, loop
        self.body: Graph = loop.attr("body")
        self.ins = list(self.body.inputs)
        self.outs = list(self.body.outputs)
        self.n_vars = len(self.ins) - 2

    def producer(self, v: Value | None, op: str) -> Node | None:
        p = self.body.producer(v) if v is not None else None
        return p if p is not None and p.op_type == op and not p.domain else None

    def operands(self, node: Node) -> list[Value | None]:
        return self.body.node_inputs(node)

    def out(self, node: Node) -> Value:
        v = self.body.node_outputs(node)[0]
        assert v is not None
        return v

    def counter_outs(self, counters: dict[int, Node]) -> list[Value]:
        return [self.out(n) for n in counters.values()]

    def single_use(self, v: Value) -> Node | None:
        uses = self.body.consumers(v)
        return uses[0][0] if len(uses) == 1 and v not in self.outs else None

    def through_identity(self, v: Value | None) -> Value | None:
        while v is not None and (p := self.producer(v, "Identity")) is not None:
            v = self.operands(p)[0]
        return v

    def outer_const(self, v: Value | None) -> Value | None:
        """The enclosing graph's initializer an outer reference of the body names."""
        if v is None or v.role is not Role.OUTER:
            return None
        g: Graph | None = self.g
        while g is not None:
            if g.has_value(v.name):
                found = g.value(v.name)
                return found if found.is_const else None
            g = g.parent
        return None

    def outer_value(self, v: Value | None) -> Value | None:
        if v is None or v.role is not Role.OUTER or not self.g.has_value(v.name):
            return None
        return self.g.value(v.name)

    def var_index(self, v: Value | None) -> int | None:
        """The loop-carried variable ``v`` is (its body input), else None."""
        return self.ins.index(v) - 2 if v in self.ins[2:] else None


def _const_scalar(g: Graph, v: Value | None) -> float | None:
    if v is None or not v.is_const:
        return None
    a = v.const_array()
    return float(a.reshape(())) if a.size == 1 else None


def _match_lstm(g: Graph, loop: Node) -> _Lstm | None:
    b = _Body(g, loop)
    loop_ins = g.node_inputs(loop)
    trip = _const_scalar(g, loop_ins[0])
    if trip is None or _const_scalar(g, loop_ins[1]) != 1.0 or b.n_vars < 2:
        return None
    if b.through_identity(b.outs[0]) is not b.ins[1]:
        return None  # the condition must stay true: the trip count alone ends the loop
    counters = _counters(b, loop_ins[2:])
    split = next((n for n in b.body.nodes() if n.op_type == "Split" and len(b.body.node_outputs(n)) == 4), None)
    if split is None:
        return None
    z = b.operands(split)[0]
    terms, adds = _add_terms(b, z)
    if terms is None:
        return None
    x_t = h_prev = kernel = recurrent = bias = None
    matmuls: list[Node] = []
    for t in terms:
        mm = b.producer(t, "MatMul")
        if mm is not None:
            a, w = b.operands(mm)
            wc = b.outer_const(w)
            if wc is None or wc.shape is None or len(wc.shape) != 2:
                return None
            if b.var_index(a) is not None and recurrent is None:
                h_prev, recurrent = a, wc
            elif kernel is None:
                x_t, kernel = a, wc
            else:
                return None
            matmuls.append(mm)
        elif bias is None and (bc := b.outer_const(t)) is not None and bc.shape is not None and len(bc.shape) == 1:
            bias = bc
        else:
            return None
    if kernel is None or recurrent is None or x_t is None or h_prev is None:
        return None
    gather = b.producer(x_t, "Gather")
    if gather is None or gather.attr("axis", 0) != 0:
        return None
    seq, index = b.operands(gather)
    x = b.outer_value(seq)
    if x is None or b.var_index(index) not in counters or x.shape is None or len(x.shape) != 3 or x.shape[0] != trip:
        return None
    assert kernel.shape is not None and recurrent.shape is not None  # 2-D constants
    hidden = int(recurrent.shape[0])  # type: ignore[arg-type]  # a constant's dims are ints
    if recurrent.shape[1] != 4 * hidden or kernel.shape[1] != 4 * hidden or (
            bias is not None and bias.shape != (4 * hidden,)):
        return None
    if split.attr("axis", 0) not in (1, -1) or not _equal_split(b, split, hidden):
        return None

    acts: list[Node] = []
    for s in b.body.node_outputs(split):
        use = b.single_use(s) if s is not None else None
        if use is None or use.op_type not in _ACTIVATIONS:
            return None
        acts.append(use)
    gates = _gate_roles(b, [b.out(a) for a in acts], h_prev)
    if gates is None:
        return None
    slots, c_var, cell_nodes, act_h = gates
    h_var = b.var_index(h_prev)
    assert h_var is not None
    f_act = acts[slots["f"]].op_type
    if acts[slots["i"]].op_type != f_act or acts[slots["o"]].op_type != f_act:
        return None
    activations = (_ACTIVATIONS[f_act], _ACTIVATIONS[acts[slots["c"]].op_type], _ACTIVATIONS[act_h.op_type])

    h_new = b.through_identity(b.outs[1 + h_var])
    scans = list(range(b.n_vars + 1, len(b.outs)))
    if any(b.through_identity(b.outs[k]) is not h_new for k in scans):
        return None
    matched = {split, gather, *matmuls, *adds, *acts, *cell_nodes, act_h, *counters.values()}
    for n in b.body.nodes():
        if n not in matched and not (n.op_type == "Identity"
                                     and b.through_identity(b.out(n)) in (h_new, b.ins[1], *b.counter_outs(counters))):
            return None
    # every other variable is a counter, whose final value nobody reads after the loop
    loop_outs = g.node_outputs(loop)
    for j in range(b.n_vars):
        if j in (h_var, c_var):
            continue
        out = loop_outs[j]
        if j not in counters or (out is not None and (g.is_used(out) or out in g.outputs)):
            return None
    return _Lstm(x, kernel, recurrent, bias, slots, h_var, c_var, activations, hidden, scans)


def _counters(b: _Body, inits: Sequence[Value | None]) -> dict[int, Node]:
    """Loop variables that start at 0 and step by 1 (the iteration index): their Add."""
    out = {}
    for j in range(b.n_vars):
        step = b.producer(b.through_identity(b.outs[1 + j]), "Add")
        if step is None or _const_scalar(b.g, inits[j]) != 0.0:
            continue
        ops = b.operands(step)
        if b.ins[2 + j] in ops and any(_const_scalar(b.g, v) == 1.0 for v in ops):
            out[j] = step
    return out


def _add_terms(b: _Body, v: Value | None) -> tuple[list[Value] | None, list[Node]]:
    """The summands of an Add tree whose inner values nobody else reads."""
    node = b.producer(v, "Add")
    if node is None:
        return ([v] if v is not None else None), []
    terms: list[Value] = []
    adds = [node]
    for operand in b.operands(node):
        inner = b.producer(operand, "Add")
        if inner is not None and operand is not None and b.single_use(operand) is node:
            sub, sub_adds = _add_terms(b, operand)
            if sub is None:
                return None, []
            terms += sub
            adds += sub_adds
        elif operand is not None:
            terms.append(operand)
    return terms, adds


def _equal_split(b: _Body, split: Node, hidden: int) -> bool:
    ins = b.operands(split)
    if len(ins) > 1 and ins[1] is not None:
        if not ins[1].is_const:
            return False
        return [int(s) for s in ins[1].const_array().reshape(-1)] == [hidden] * 4
    sizes = split.attr("split", None)
    return sizes is None or list(sizes) == [hidden] * 4


def _gate_roles(b: _Body, acts: list[Value], h_prev: Value) -> tuple[dict[str, int], int, list[Node], Node] | None:
    """Which split block is which gate, from c' = f * c + i * g and h' = o * act(c')."""
    h_var = b.var_index(h_prev)
    if h_var is None:
        return None
    h_mul = b.producer(b.through_identity(b.outs[1 + h_var]), "Mul")
    if h_mul is None:
        return None
    for c_var in range(b.n_vars):
        c_prev, c_new = b.ins[2 + c_var], b.through_identity(b.outs[1 + c_var])
        add = b.producer(c_new, "Add")
        if c_var == h_var or add is None or c_new is None:
            continue
        muls = [b.producer(v, "Mul") for v in b.operands(add)]
        forget = [m for m in muls if m is not None and c_prev in b.operands(m)]
        others = [m for m in muls if m is not None and c_prev not in b.operands(m)]
        if len(forget) != 1 or len(others) != 1:
            continue
        f_val = next(v for v in b.operands(forget[0]) if v is not c_prev)
        act_h = next((p for v in b.operands(h_mul) if v is not None and (p := b.body.producer(v)) is not None
                      and p.op_type in _ACTIVATIONS and b.operands(p)[0] is c_new), None)
        if act_h is None:
            continue
        o_val = next(v for v in b.operands(h_mul) if v is not b.out(act_h))
        ig = b.operands(others[0])
        if f_val not in acts or o_val not in acts or any(v not in acts for v in ig):
            continue
        f_slot, o_slot = acts.index(f_val), acts.index(o_val)  # type: ignore[arg-type]
        first, second = sorted(acts.index(v) for v in ig)  # type: ignore[arg-type]
        if len({f_slot, o_slot, first, second}) != 4:
            continue
        # i shares the gates' activation (f's); the cell candidate g may have another
        kind = {k: b.body.producer(acts[k]).op_type for k in (f_slot, first)}  # type: ignore[union-attr]
        i_slot, c_slot = (first, second) if kind[first] == kind[f_slot] else (second, first)
        return {"i": i_slot, "f": f_slot, "c": c_slot, "o": o_slot}, c_var, [add, forget[0], others[0], h_mul], act_h
    return None


# ---------------------------------------------------------------- rewrite
def _rewrite(g: Graph, loop: Node, cell: _Lstm, keep_weights: bool) -> None:
    h = cell.hidden
    order = np.concatenate([np.arange(cell.slots[k] * h, (cell.slots[k] + 1) * h) for k in _ONNX_GATES])
    prov = loop.provenance
    base = loop.name
    W = _weight(g, cell.kernel, order, keep_weights, base)
    R = _weight(g, cell.recurrent, order, keep_weights, base)
    B = _bias(g, cell.bias, order, h, keep_weights, base) if cell.bias is not None else None
    loop_ins = g.node_inputs(loop)
    h0, c0 = loop_ins[2 + cell.h_var], loop_ins[2 + cell.c_var]
    axes0 = g.add_constant(f"{base}_axes0", np.array([0], np.int64))
    init_h, init_c = (None if _zeros(g, v) else g.add_op("Unsqueeze", [v, axes0], name=f"{base}_{what}",
                                                         provenance=prov)[0]
                      for v, what in ((h0, "h0"), (c0, "c0")))
    attrs: dict[str, object] = {"hidden_size": h}
    if cell.activations != ("Sigmoid", "Tanh", "Tanh"):
        attrs["activations"] = list(cell.activations)
    y, y_h, y_c = g.add_op("LSTM", [cell.x, W, R, B, None, init_h, init_c], attrs, name=f"{base}_LSTM",
                           n_outputs=3, provenance=prov)
    dtype = cell.x.dtype
    outs = g.node_outputs(loop)
    final_h, final_c = outs[cell.h_var], outs[cell.c_var]
    scan_outs = [outs[k - 1] for k in cell.scans]
    axes1 = g.add_constant(f"{base}_axes1", np.array([1], np.int64))
    replaced: list[tuple[Value | None, Value, Value]] = [(final_h, y_h, axes0), (final_c, y_c, axes0)]
    replaced += [(s, y, axes1) for s in scan_outs]
    for old, new, axes in replaced:
        if old is None or not (g.is_used(old) or old in g.outputs):
            continue
        squeezed = g.add_op("Squeeze", [new, axes], name=f"{base}_squeeze", provenance=prov,
                            output_types=[TensorType(dtype, old.shape) if dtype is not None else None])[0]
        name = old.name
        g.replace_all_uses(old, squeezed)
        g.rename(old, f"{name}_loop")
        g.rename(squeezed, name)  # a graph output keeps its name
    g.remove(loop, force=True)
    pairs: list[tuple[Value | None, Value | None]] = [(cell.kernel, W), (cell.recurrent, R), (cell.bias, B)]
    for weight, relaid in pairs:  # the re-laid-out copy takes the weight's name once it is unused
        if weight is not None and relaid is not None and relaid.is_const and not _read_anywhere(g, weight):
            name = weight.name
            g.remove(weight)
            g.rename(relaid, name)


def _read_anywhere(g: Graph, v: Value) -> bool:
    return g.is_used(v) or v in g.outputs or any(
        v.name in sub.outer_names() for n in g.nodes() for sub in n.subgraphs())


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


def _weight(g: Graph, w: Value, order: np.ndarray, keep_weights: bool, base: str) -> Value:
    """A [in, 4H] kernel as ONNX's [1, 4H, in] in iofc order."""
    if not keep_weights:
        data = np.ascontiguousarray(w.const_array()[:, order].T[None])
        return g.add_constant(w.name, data, role=w.role, source_name=w.source_name)
    idx = g.add_constant(f"{base}_gate_order", order.astype(np.int64))
    cols = g.add_op("Gather", [w, idx], {"axis": 1}, name=f"{base}_gates")[0]
    rows = g.add_op("Transpose", [cols], {"perm": [1, 0]}, name=f"{base}_transpose")[0]
    return g.add_op("Unsqueeze", [rows, g.add_constant(f"{base}_axes", np.array([0], np.int64))],
                    name=f"{base}_unsqueeze")[0]


def _bias(g: Graph, bias: Value, order: np.ndarray, h: int, keep_weights: bool, base: str) -> Value:
    """A [4H] bias as ONNX's [1, 8H] (input bias, then a zero recurrent bias)."""
    zeros = np.zeros(4 * h, bias.const_array().dtype)
    if not keep_weights:
        data = np.concatenate([bias.const_array()[order], zeros])[None]
        return g.add_constant(bias.name, data, role=bias.role, source_name=bias.source_name)
    idx = g.add_constant(f"{base}_gate_order", order.astype(np.int64))
    gathered = g.add_op("Gather", [bias, idx], {"axis": 0}, name=f"{base}_bias_gates")[0]
    full = g.add_op("Concat", [gathered, g.add_constant(f"{base}_zero_bias", zeros)], {"axis": 0},
                    name=f"{base}_bias")[0]
    return g.add_op("Unsqueeze", [full, g.add_constant(f"{base}_axes", np.array([0], np.int64))],
                    name=f"{base}_bias_unsqueeze")[0]
