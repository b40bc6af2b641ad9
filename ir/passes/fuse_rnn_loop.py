"""Replace a Loop that runs one LSTM, GRU or simple RNN cell step per item of a sequence
with the ONNX LSTM / GRU / RNN op.

TensorFlow has no LSTM or GRU op: a Keras recurrent layer is a While loop over time whose
body is the cell, and the front-end turns it into a Loop. ONNX's LSTM and GRU compute the
same recurrences in one op, which runtimes run as a fused kernel and which the migration
back-ends emit as the framework's own recurrent op.

A Loop is replaced only when its structure proves the semantics: a trip count equal to
the sequence length, the item read at the iteration index from an outer tensor, every
body op part of the cell (or a counter), the cell's weights initializers of an enclosing
graph, and the hidden state the only scan output. Gates are identified by their role in
the recurrence, not by their position in the weights, so any gate order is read right:

- LSTM: ``c' = f * c + i * g`` (f multiplies the old cell state), ``h' = o * act(c')``;
- GRU (Keras ``reset_after=True``, ONNX ``linear_before_reset=1``):
  ``h' = z * h + (1 - z) * act(x_h + r * (h R_h + b_h))``, z and r from
  ``act(x_k + h R_k + b_k)``;
- RNN (Keras' SimpleRNN): ``h' = act(x W + h R + b)``.

Weights are re-laid out to ONNX's (gate order iofc / zrh, ``[1, G*H, in]``): as new
initializers keeping the weight's name and role, or, with ``keep_weights``, as graph ops
over the original weights, so that a migration keeps the source's trainable layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ir.graph import Graph
from ir.node import Node, Role, Value
from ir.passes.base import PassReport
from ir.types import TensorType

_ACTIVATIONS = {"Sigmoid": "Sigmoid", "Tanh": "Tanh", "Relu": "Relu"}
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


@dataclass(frozen=True)
class _Part:
    """A weight as the cell reads it: an initializer of an enclosing graph, or one row of
    it (Keras' GRU keeps its input and recurrent biases as the rows of one weight)."""

    value: Value
    row: int | None = None

    def data(self) -> np.ndarray:
        a = self.value.const_array()
        return a if self.row is None else a[self.row]


@dataclass
class _Cell:
    op: str  # "LSTM" | "GRU" | "RNN"
    x_t: Value  # the item of this iteration
    h_var: int  # loop-carried variable positions
    c_var: int | None
    hidden: int
    kernel: _Part  # [input, G*H], gate blocks in x_blocks' order
    recurrent: _Part  # [H, G*H], gate blocks in h_blocks' order
    x_blocks: dict[str, int]
    h_blocks: dict[str, int]
    x_bias: _Part | None  # [G*H] added to the input projection (LSTM: the only bias)
    h_bias: _Part | None  # [G*H] added to the recurrent projection
    activations: list[str]
    attrs: dict[str, int] = field(default_factory=dict)
    nodes: set[Node] = field(default_factory=set)  # the body ops the cell covers
    x: Value | None = None  # the sequence [T, batch, input], set by _match
    scans: list[int] = field(default_factory=list)


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
        """``v`` as a constant the loop does not change: an initializer of the body, or
        of an enclosing graph that an outer reference names."""
        if v is not None and v.is_const:
            return v
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


def _const_scalar(v: Value | None) -> float | None:
    if v is None or not v.is_const:
        return None
    a = v.const_array()
    return float(a.reshape(())) if a.size == 1 else None


# ---------------------------------------------------------------- the loop
def _match(g: Graph, loop: Node) -> _Cell | None:
    b = _Body(g, loop)
    loop_ins = g.node_inputs(loop)
    trip = _const_scalar(loop_ins[0])
    if loop_ins[0] is None or _const_scalar(loop_ins[1]) != 1.0 or b.n_vars < 2:
        return None
    if b.through_identity(b.outs[0]) is not b.ins[1]:
        return None  # the condition must stay true: the trip count alone ends the loop
    counters = _counters(b, loop_ins[2:])
    cell = _lstm_cell(b, counters) or _gru_cell(b, counters) or _rnn_cell(b, counters)
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
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else [0]
        steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1]
        if _ints(ins[1]) != [0] or _ints(ins[2]) != [1] or axes != [0] or steps != [1]:
            return False
    elif p.op_type == "Gather":
        if p.attr("axis", 0) != 0 or _const_scalar(ins[1]) != 0.0:
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
    ends = _ints(ins[2])
    if _ints(ins[1]) != [-1] or _ints(ins[3]) != [0] or _ints(ins[4]) != [-1] or ends is None \
            or ends[0] > -(1 << 31):
        return None
    return ins[0]


def _counters(b: _Body, inits: Sequence[Value | None]) -> dict[int, Node]:
    """Loop variables that start at 0 and step by 1 (the iteration index): their Add."""
    out = {}
    for j in range(b.n_vars):
        step = b.producer(b.through_identity(b.outs[1 + j]), "Add")
        if step is None or _const_scalar(inits[j]) != 0.0:
            continue
        ops = b.operands(step)
        if b.ins[2 + j] in ops and any(_const_scalar(v) == 1.0 for v in ops):
            out[j] = step
    return out


def _activation(b: _Body, v: Value | None) -> Node | None:
    p = b.body.producer(v) if v is not None else None
    return p if p is not None and p.op_type in _ACTIVATIONS and not p.domain else None


def _other(b: _Body, node: Node, v: Value | None) -> Value | None:
    """The operand of binary ``node`` that is not ``v``."""
    ops = b.operands(node)
    return ops[1] if ops[0] is v else ops[0] if ops[1] is v else None


# ---------------------------------------------------------------- LSTM
def _lstm_cell(b: _Body, counters: dict[int, Node]) -> _Cell | None:
    """z = x W + h R (+ b), split in 4 blocks, c' = f * c + i * g, h' = o * act(c')."""
    split = next((n for n in b.body.nodes() if n.op_type == "Split" and len(b.body.node_outputs(n)) == 4), None)
    if split is None:
        return None
    linear = _linear(b, b.operands(split)[0])
    if linear is None:
        return None
    x_t, kernel, h_prev, recurrent, bias, linear_nodes = linear
    hidden = int(recurrent.const_array().shape[0])
    if recurrent.const_array().shape[1] != 4 * hidden or kernel.const_array().shape[1] != 4 * hidden or (
            bias is not None and bias.const_array().shape != (4 * hidden,)):
        return None
    if split.attr("axis", 0) not in (1, -1) or not _equal_split(b, split, hidden):
        return None
    acts: list[Node] = []
    for s in b.body.node_outputs(split):
        use = b.single_use(s) if s is not None else None
        if use is None or use.op_type not in _ACTIVATIONS:
            return None
        acts.append(use)
    gates = _lstm_gates(b, [b.out(a) for a in acts], h_prev)
    if gates is None:
        return None
    slots, c_var, cell_nodes, act_h = gates
    h_var = b.var_index(h_prev)
    assert h_var is not None
    f_act = acts[slots["f"]].op_type
    if acts[slots["i"]].op_type != f_act or acts[slots["o"]].op_type != f_act:
        return None
    activations = [_ACTIVATIONS[f_act], _ACTIVATIONS[acts[slots["c"]].op_type], _ACTIVATIONS[act_h.op_type]]
    return _Cell("LSTM", x_t, h_var, c_var, hidden, _Part(kernel), _Part(recurrent), slots, slots,
                 _Part(bias) if bias is not None else None, None, activations,
                 nodes={split, *linear_nodes, *acts, *cell_nodes, act_h})


def _linear(b: _Body, z: Value | None) -> tuple[Value, Value, Value, Value, Value | None, list[Node]] | None:
    """z = x W + h R (+ bias) with W, R, bias initializers and h a loop variable:
    (x, W, h, R, bias, the ops)."""
    terms, adds = _add_terms(b, z)
    if terms is None:
        return None
    x_t = h_prev = kernel = recurrent = bias = None
    nodes: list[Node] = list(adds)
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
            nodes.append(mm)
        elif bias is None and (bc := b.outer_const(t)) is not None and bc.shape is not None and len(bc.shape) == 1:
            bias = bc
        else:
            return None
    if kernel is None or recurrent is None or x_t is None or h_prev is None:
        return None
    return x_t, kernel, h_prev, recurrent, bias, nodes


# ---------------------------------------------------------------- simple RNN
def _rnn_cell(b: _Body, counters: dict[int, Node]) -> _Cell | None:
    """h' = act(x W + h R (+ b)) (Keras' SimpleRNN)."""
    for h_var in range(b.n_vars):
        act = _activation(b, b.through_identity(b.outs[1 + h_var]))
        if h_var in counters or act is None:
            continue
        linear = _linear(b, b.operands(act)[0])
        if linear is None or linear[2] is not b.ins[2 + h_var]:
            continue
        x_t, kernel, _, recurrent, bias, nodes = linear
        hidden = int(recurrent.const_array().shape[0])
        if recurrent.const_array().shape[1] != hidden or kernel.const_array().shape[1] != hidden or (
                bias is not None and bias.const_array().shape != (hidden,)):
            continue
        blocks = {"i": 0}
        return _Cell("RNN", x_t, h_var, None, hidden, _Part(kernel), _Part(recurrent), blocks, blocks,
                     _Part(bias) if bias is not None else None, None, [_ACTIVATIONS[act.op_type]],
                     nodes={*nodes, act})
    return None


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
    n = len(b.body.node_outputs(split))
    ins = b.operands(split)
    if len(ins) > 1 and ins[1] is not None:
        if not ins[1].is_const:
            return False
        return [int(s) for s in ins[1].const_array().reshape(-1)] == [hidden] * n
    sizes = split.attr("split", None)
    return sizes is None or list(sizes) == [hidden] * n


def _lstm_gates(b: _Body, acts: list[Value], h_prev: Value) -> tuple[dict[str, int], int, list[Node], Node] | None:
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
        f_val = _other(b, forget[0], c_prev)
        act_h = next((p for v in b.operands(h_mul) if (p := _activation(b, v)) is not None
                      and b.operands(p)[0] is c_new), None)
        if act_h is None:
            continue
        o_val = _other(b, h_mul, b.out(act_h))
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


# ---------------------------------------------------------------- GRU
@dataclass(frozen=True)
class _Piece:
    """A column range [start, end) of a projection (x W + b, or h R + b)."""

    projection: Value
    start: int
    end: int | None  # None: to the end
    node: Node


@dataclass
class _Projection:
    source: Value  # x_t or h
    weight: _Part
    bias: _Part | None
    nodes: set[Node]


def _gru_cell(b: _Body, counters: dict[int, Node]) -> _Cell | None:
    """h' = z * h + (1 - z) * g(x_h + r * (h R_h + b_h)); z, r = f(x_k + h R_k + b_k)."""
    for h_var in range(b.n_vars):
        if h_var in counters:
            continue
        cell = _gru_at(b, h_var)
        if cell is not None:
            return cell
    return None


def _gru_at(b: _Body, h_var: int) -> _Cell | None:
    h_prev = b.ins[2 + h_var]
    add = b.producer(b.through_identity(b.outs[1 + h_var]), "Add")
    if add is None:
        return None
    muls = [b.producer(v, "Mul") for v in b.operands(add)]
    keep = [m for m in muls if m is not None and h_prev in b.operands(m)]
    new = [m for m in muls if m is not None and h_prev not in b.operands(m)]
    if len(keep) != 1 or len(new) != 1:
        return None
    z = _other(b, keep[0], h_prev)
    one_minus = next((v for v in b.operands(new[0]) if (s := b.producer(v, "Sub")) is not None
                      and b.operands(s)[1] is z and _const_scalar(b.operands(s)[0]) == 1.0), None)
    if z is None or one_minus is None:
        return None
    act_g = _activation(b, _other(b, new[0], one_minus))
    act_z = _activation(b, z)
    if act_g is None or act_z is None:
        return None
    a_h, a_z = b.producer(b.operands(act_g)[0], "Add"), b.producer(b.operands(act_z)[0], "Add")
    if a_h is None or a_z is None:
        return None
    # g's pre-activation: x_h + r * rh
    reset_mul = next((m for v in b.operands(a_h) if (m := b.producer(v, "Mul")) is not None), None)
    if reset_mul is None:
        return None
    act_r = next((p for v in b.operands(reset_mul) if (p := _activation(b, v)) is not None), None)
    if act_r is None or act_r.op_type != act_z.op_type:
        return None
    a_r = b.producer(b.operands(act_r)[0], "Add")
    if a_r is None:
        return None
    roles = {"z": b.operands(a_z), "r": b.operands(a_r),
             "h": [_other(b, a_h, b.out(reset_mul)), _other(b, reset_mul, b.out(act_r))]}
    x_proj: _Projection | None = None
    h_proj: _Projection | None = None
    x_pieces: dict[str, _Piece] = {}
    h_pieces: dict[str, _Piece] = {}
    nodes = {add, keep[0], new[0], b.body.producer(one_minus), act_g, act_z, a_h, a_z, reset_mul, act_r, a_r}
    for gate, operands in roles.items():
        if len(operands) != 2:
            return None
        for v in operands:
            piece = _piece(b, v)
            proj = _projection(b, piece.projection) if piece is not None else None
            if piece is None or proj is None:
                return None
            if proj.source is h_prev:
                if h_proj is not None and h_proj.source is not proj.source:
                    return None
                h_proj, h_pieces[gate] = h_proj or proj, piece
            else:
                if x_proj is not None and x_proj.source is not proj.source:
                    return None
                x_proj, x_pieces[gate] = x_proj or proj, piece
    if x_proj is None or h_proj is None or len(x_pieces) != 3 or len(h_pieces) != 3:
        return None
    if len({p.projection for p in x_pieces.values()}) != 1 or len({p.projection for p in h_pieces.values()}) != 1:
        return None
    hidden = int(h_proj.weight.data().shape[0])
    x_blocks, h_blocks = _blocks(x_pieces, hidden), _blocks(h_pieces, hidden)
    if x_blocks is None or h_blocks is None or h_proj.weight.data().shape != (hidden, 3 * hidden) \
            or x_proj.weight.data().shape[1] != 3 * hidden:
        return None
    for bias in (x_proj.bias, h_proj.bias):
        if bias is not None and bias.data().shape != (3 * hidden,):
            return None
    nodes |= x_proj.nodes | h_proj.nodes | {p.node for p in (*x_pieces.values(), *h_pieces.values())}
    return _Cell("GRU", x_proj.source, h_var, None, hidden, x_proj.weight, h_proj.weight, x_blocks, h_blocks,
                 x_proj.bias, h_proj.bias, [_ACTIVATIONS[act_z.op_type], _ACTIVATIONS[act_g.op_type]],
                 {"linear_before_reset": 1}, nodes={n for n in nodes if n is not None})


def _piece(b: _Body, v: Value | None) -> _Piece | None:
    """``v`` as a column range of a 2-D value: an output of an equal Split, or a Slice."""
    node = b.body.producer(v) if v is not None else None
    if node is None or node.domain:
        return None
    ins = b.operands(node)
    if node.op_type == "Split" and node.attr("axis", 0) in (1, -1):
        outs = b.body.node_outputs(node)
        size = _split_size(b, node)
        if size is None:
            return None
        k = outs.index(v)
        return _Piece(ins[0], k * size, (k + 1) * size, node) if ins[0] is not None else None
    if node.op_type == "Slice" and len(ins) >= 4 and ins[0] is not None:
        starts, ends, axes = (_ints(i) for i in ins[1:4])
        steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1]
        if starts is None or ends is None or axes not in ([1], [-1]) or steps != [1] or len(starts) != 1:
            return None
        end = ends[0] if ends[0] < 1 << 31 else None
        return _Piece(ins[0], starts[0], end, node)
    return None


def _split_size(b: _Body, split: Node) -> int | None:
    outs = b.body.node_outputs(split)
    ins = b.operands(split)
    if len(ins) > 1 and ins[1] is not None:
        sizes = _ints(ins[1])
        return sizes[0] if sizes is not None and len(set(sizes)) == 1 else None
    x = ins[0]
    total = x.shape[-1] if x is not None and x.shape else None
    return total // len(outs) if isinstance(total, int) and split.attr("split", None) is None else None


def _ints(v: Value | None) -> list[int] | None:
    return [int(a) for a in v.const_array().reshape(-1)] if v is not None and v.is_const else None


def _blocks(pieces: dict[str, _Piece], hidden: int) -> dict[str, int] | None:
    blocks = {}
    for gate, p in pieces.items():
        if p.start % hidden or (p.end if p.end is not None else p.start + hidden) != p.start + hidden:
            return None
        blocks[gate] = p.start // hidden
    return blocks if sorted(blocks.values()) == [0, 1, 2] else None


def _projection(b: _Body, v: Value) -> _Projection | None:
    """v = source @ W (+ bias), W and bias initializers of an enclosing graph."""
    nodes: set[Node] = set()
    bias = None
    add = b.producer(v, "Add")
    if add is not None:
        mm_val = next((o for o in b.operands(add) if b.producer(o, "MatMul") is not None), None)
        bias = _bias_part(b, _other(b, add, mm_val), nodes) if mm_val is not None else None
        if mm_val is None or bias is None:
            return None
        nodes.add(add)
        v = mm_val
    mm = b.producer(v, "MatMul")
    if mm is None:
        return None
    source, w = b.operands(mm)
    weight = b.outer_const(w)
    if source is None or weight is None or weight.shape is None or len(weight.shape) != 2:
        return None
    nodes.add(mm)
    return _Projection(source, _Part(weight), bias, nodes)


def _bias_part(b: _Body, v: Value | None, nodes: set[Node]) -> _Part | None:
    """A bias vector: an initializer, or one row of a 2-D initializer read as
    Squeeze(Split(w, axis 0)) (Keras' GRU) or Gather(w, k)."""
    const = b.outer_const(v)
    if const is not None:
        return _Part(const) if const.shape is not None and len(const.shape) == 1 else None
    node = b.body.producer(v) if v is not None else None
    if node is not None and node.op_type == "Squeeze":
        split = b.producer(b.operands(node)[0], "Split")
        if split is None or split.attr("axis", 0) != 0:
            return None
        w = b.outer_const(b.operands(split)[0])
        if w is None or w.shape is None or len(w.shape) != 2 or len(b.body.node_outputs(split)) != w.shape[0]:
            return None
        nodes |= {node, split}
        return _Part(w, b.body.node_outputs(split).index(b.operands(node)[0]))
    if node is not None and node.op_type == "Gather" and node.attr("axis", 0) == 0:
        w = b.outer_const(b.operands(node)[0])
        row = _const_scalar(b.operands(node)[1])
        if w is None or row is None or w.shape is None or len(w.shape) != 2:
            return None
        nodes.add(node)
        return _Part(w, int(row))
    return None


# ---------------------------------------------------------------- rewrite
def _rewrite(g: Graph, loop: Node, cell: _Cell, keep_weights: bool) -> None:
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


def _row(g: Graph, part: _Part, base: str) -> Value:
    src = _local(g, part.value)
    if part.row is None:
        return src
    index = g.add_constant(f"{base}_row", np.array(part.row, np.int64))
    return g.add_op("Gather", [src, index], {"axis": 0}, name=f"{base}_row")[0]


def _relaid_kernel(g: Graph, part: _Part, order: np.ndarray, keep_weights: bool, base: str) -> Value:
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


def _relaid_bias(g: Graph, parts: list[tuple[_Part | None, np.ndarray]], size: int, keep_weights: bool,
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
