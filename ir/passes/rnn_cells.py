"""Recognisers of one recurrent cell step in a Loop body, for ``fuse_rnn_loop``: which
body ops are the cell, its weights (initializers, or rows of one), which column block of
each kernel is which gate, and its activations. Gates are identified by their role in the
recurrence, never by their position:

- LSTM: ``c' = f * c + i * g`` (f multiplies the old cell state), ``h' = o * act(c')``;
- GRU: ``h' = z * h + (1 - z) * act(x_h + r * (h R_h + b_h))`` (Keras ``reset_after=True``,
  ONNX ``linear_before_reset=1``) or ``act(x_h + (r * h) R_h)`` (``reset_after=False``,
  ``linear_before_reset=0``), z and r from ``act(x_k + h R_k + b_k)``;
- RNN (Keras' SimpleRNN): ``h' = act(x W + h R + b)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Role, Value

ACTIVATIONS = {"Sigmoid": "Sigmoid", "Tanh": "Tanh", "Relu": "Relu"}


@dataclass(frozen=True)
class Part:
    """A weight as the cell reads it: an initializer of an enclosing graph, or one row of
    it (Keras' GRU keeps its input and recurrent biases as the rows of one weight).
    ``col0``: the first column the cell's MatMul reads (Keras' GRU(reset_after=False)
    slices its recurrent kernel); ``data()`` is always the whole weight."""

    value: Value
    row: int | None = None
    col0: int = 0

    def data(self) -> np.ndarray:
        a = self.value.const_array()
        return a if self.row is None else a[self.row]


@dataclass
class Cell:
    op: str  # "LSTM" | "GRU" | "RNN"
    x_t: Value  # the item of this iteration
    h_var: int  # loop-carried variable positions
    c_var: int | None
    hidden: int
    kernel: Part  # [input, G*H], gate blocks in x_blocks' order
    recurrent: Part  # [H, G*H], gate blocks in h_blocks' order
    x_blocks: dict[str, int]
    h_blocks: dict[str, int]
    x_bias: Part | None  # [G*H] added to the input projection (LSTM: the only bias)
    h_bias: Part | None  # [G*H] added to the recurrent projection
    activations: list[str]
    attrs: dict[str, int] = field(default_factory=dict)
    nodes: set[Node] = field(default_factory=set)  # the body ops the cell covers
    x: Value | None = None  # the sequence [T, batch, input], set by _match
    scans: list[int] = field(default_factory=list)


class LoopBody:
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


def const_scalar(v: Value | None) -> float | None:
    if v is None or not v.is_const:
        return None
    a = v.const_array()
    return float(a.reshape(())) if a.size == 1 else None


def _activation(b: LoopBody, v: Value | None) -> Node | None:
    p = b.body.producer(v) if v is not None else None
    return p if p is not None and p.op_type in ACTIVATIONS and not p.domain else None


def _other(b: LoopBody, node: Node, v: Value | None) -> Value | None:
    """The operand of binary ``node`` that is not ``v``."""
    ops = b.operands(node)
    return ops[1] if ops[0] is v else ops[0] if ops[1] is v else None


# ---------------------------------------------------------------- LSTM
def lstm_cell(b: LoopBody, counters: dict[int, Node]) -> Cell | None:
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
        if use is None or use.op_type not in ACTIVATIONS:
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
    activations = [ACTIVATIONS[f_act], ACTIVATIONS[acts[slots["c"]].op_type], ACTIVATIONS[act_h.op_type]]
    return Cell("LSTM", x_t, h_var, c_var, hidden, Part(kernel), Part(recurrent), slots, slots,
                 Part(bias) if bias is not None else None, None, activations,
                 nodes={split, *linear_nodes, *acts, *cell_nodes, act_h})


def _linear(b: LoopBody, z: Value | None) -> tuple[Value, Value, Value, Value, Value | None, list[Node]] | None:
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
def rnn_cell(b: LoopBody, counters: dict[int, Node]) -> Cell | None:
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
        return Cell("RNN", x_t, h_var, None, hidden, Part(kernel), Part(recurrent), blocks, blocks,
                     Part(bias) if bias is not None else None, None, [ACTIVATIONS[act.op_type]],
                     nodes={*nodes, act})
    return None


def _add_terms(b: LoopBody, v: Value | None) -> tuple[list[Value] | None, list[Node]]:
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


def _equal_split(b: LoopBody, split: Node, hidden: int) -> bool:
    n = len(b.body.node_outputs(split))
    ins = b.operands(split)
    if len(ins) > 1 and ins[1] is not None:
        if not ins[1].is_const:
            return False
        return [int(s) for s in ins[1].const_array().reshape(-1)] == [hidden] * n
    sizes = split.attr("split", None)
    return sizes is None or list(sizes) == [hidden] * n


def _lstm_gates(b: LoopBody, acts: list[Value], h_prev: Value) -> tuple[dict[str, int], int, list[Node], Node] | None:
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
    node: Node | None  # the Split or Slice (None: a weight's columns read by their own MatMul)


@dataclass
class _Projection:
    source: Value  # x_t or h
    weight: Part
    bias: Part | None
    nodes: set[Node]


def gru_cell(b: LoopBody, counters: dict[int, Node]) -> Cell | None:
    """h' = z * h + (1 - z) * g(x_h + r * (h R_h + b_h)); z, r = f(x_k + h R_k + b_k)."""
    for h_var in range(b.n_vars):
        if h_var in counters:
            continue
        cell = _gru_at(b, h_var)
        if cell is not None:
            return cell
    return None


def _gru_at(b: LoopBody, h_var: int) -> Cell | None:
    h_prev = b.ins[2 + h_var]
    gates = _gru_gates(b, h_var)
    if gates is None:
        return None
    roles, nodes, act_f, act_g, candidate = gates
    found = _gru_projections(b, roles, h_prev)
    if found is None:
        return None
    (x_proj, x_pieces), (h_proj, h_pieces) = found
    if candidate is not None:  # reset before the product: h's block read by its own MatMul
        if candidate.value is not h_proj.weight.value:
            return None
        h_pieces["h"] = _Piece(candidate.value, candidate.col0, None, None)
    if len(h_pieces) != 3:
        return None
    hidden = int(h_proj.weight.data().shape[0])
    x_blocks, h_blocks = _blocks(x_pieces, hidden), _blocks(h_pieces, hidden)
    if x_blocks is None or h_blocks is None or h_proj.weight.data().shape != (hidden, 3 * hidden) \
            or x_proj.weight.data().shape[1] != 3 * hidden:
        return None
    for bias in (x_proj.bias, h_proj.bias):
        if bias is not None and bias.data().shape != (3 * hidden,):
            return None
    nodes |= x_proj.nodes | h_proj.nodes
    nodes |= {p.node for p in (*x_pieces.values(), *h_pieces.values()) if p.node is not None}
    return Cell("GRU", x_proj.source, h_var, None, hidden, x_proj.weight, h_proj.weight, x_blocks, h_blocks,
                x_proj.bias, h_proj.bias, [ACTIVATIONS[act_f.op_type], ACTIVATIONS[act_g.op_type]],
                {"linear_before_reset": int(candidate is None)}, nodes=nodes)


def _gru_gates(b: LoopBody, h_var: int
               ) -> tuple[dict[str, list[Value | None]], set[Node], Node, Node, Part | None] | None:
    """From h' = z * h + (1 - z) * g(a_h): each gate's summands (input and recurrent
    pieces), the ops, the gate and candidate activations, and, when the reset multiplies
    h before its product (a_h = x_h + (r * h) R_h, ONNX linear_before_reset=0), R_h."""
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
                      and b.operands(s)[1] is z and const_scalar(b.operands(s)[0]) == 1.0), None)
    if z is None or one_minus is None:
        return None
    act_g, act_z = _activation(b, _other(b, new[0], one_minus)), _activation(b, z)
    a_h = b.producer(b.operands(act_g)[0], "Add") if act_g is not None else None
    a_z = b.producer(b.operands(act_z)[0], "Add") if act_z is not None else None
    if act_g is None or act_z is None or a_h is None or a_z is None:
        return None
    nodes = {add, keep[0], new[0], act_g, act_z, a_h, a_z}
    sub = b.body.producer(one_minus)
    nodes |= {sub} if sub is not None else set()
    reset = _reset(b, a_h, h_prev, nodes)
    if reset is None or reset[1].op_type != act_z.op_type:
        return None
    h_terms, act_r, candidate = reset
    a_r = b.producer(b.operands(act_r)[0], "Add")
    if a_r is None:
        return None
    nodes |= {act_r, a_r}
    return {"z": b.operands(a_z), "r": b.operands(a_r), "h": h_terms}, nodes, act_z, act_g, candidate


def _reset(b: LoopBody, a_h: Node, h_prev: Value,
           nodes: set[Node]) -> tuple[list[Value | None], Node, Part | None] | None:
    """The candidate's reset: x_h + r * rh (rh a recurrent piece), or x_h + (r * h) R_h.
    Returns the summands still to be read as pieces, r's activation, and R_h if any."""
    for v in b.operands(a_h):
        mul, mm = b.producer(v, "Mul"), b.producer(v, "MatMul")
        if mul is not None:
            act_r = next((p for u in b.operands(mul) if (p := _activation(b, u)) is not None), None)
            if act_r is None:
                return None
            nodes.add(mul)
            return [_other(b, a_h, v), _other(b, mul, b.out(act_r))], act_r, None
        if mm is not None:
            gated = b.producer(b.operands(mm)[0], "Mul")
            act_r = _activation(b, _other(b, gated, h_prev)) if gated is not None else None
            weight = _weight_part(b, b.operands(mm)[1], nodes)
            if gated is None or act_r is None or weight is None or h_prev not in b.operands(gated):
                return None
            nodes |= {mm, gated}
            return [_other(b, a_h, v)], act_r, weight
    return None


_Side = tuple[_Projection, dict[str, _Piece]]  # a projection and its gate pieces


def _gru_projections(b: LoopBody, roles: dict[str, list[Value | None]],
                     h_prev: Value) -> tuple[_Side, _Side] | None:
    """Each gate's input and recurrent pieces as column blocks of one input projection
    (x W + b_x) and one recurrent projection (h R + b_h); pieces are numbered by the
    columns of the whole weight."""
    proj: dict[bool, _Projection] = {}
    pieces: dict[bool, dict[str, _Piece]] = {False: {}, True: {}}
    for gate, operands in roles.items():
        for v in operands:
            piece = _piece(b, v)
            p = _projection(b, piece.projection) if piece is not None else None
            if piece is None or p is None:
                return None
            recurrent = p.source is h_prev
            if recurrent in proj and (proj[recurrent].source is not p.source
                                      or proj[recurrent].weight.value is not p.weight.value):
                return None
            proj.setdefault(recurrent, p)
            offset = p.weight.col0
            pieces[recurrent][gate] = _Piece(piece.projection, piece.start + offset,
                                             None if piece.end is None else piece.end + offset, piece.node)
    if len(proj) != 2 or len(pieces[False]) != 3:
        return None
    return (proj[False], pieces[False]), (proj[True], pieces[True])


def _piece(b: LoopBody, v: Value | None) -> _Piece | None:
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
        starts, ends, axes = (const_ints(i) for i in ins[1:4])
        steps = const_ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1]
        if starts is None or ends is None or axes not in ([1], [-1]) or steps != [1] or len(starts) != 1:
            return None
        end = ends[0] if ends[0] < 1 << 31 else None
        return _Piece(ins[0], starts[0], end, node)
    return None


def _split_size(b: LoopBody, split: Node) -> int | None:
    outs = b.body.node_outputs(split)
    ins = b.operands(split)
    if len(ins) > 1 and ins[1] is not None:
        sizes = const_ints(ins[1])
        return sizes[0] if sizes is not None and len(set(sizes)) == 1 else None
    x = ins[0]
    total = x.shape[-1] if x is not None and x.shape else None
    return total // len(outs) if isinstance(total, int) and split.attr("split", None) is None else None


def const_ints(v: Value | None) -> list[int] | None:
    return [int(a) for a in v.const_array().reshape(-1)] if v is not None and v.is_const else None


def _blocks(pieces: dict[str, _Piece], hidden: int) -> dict[str, int] | None:
    blocks = {}
    for gate, p in pieces.items():
        if p.start % hidden or (p.end if p.end is not None else p.start + hidden) != p.start + hidden:
            return None
        blocks[gate] = p.start // hidden
    return blocks if sorted(blocks.values()) == [0, 1, 2] else None


def _projection(b: LoopBody, v: Value) -> _Projection | None:
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
    weight = _weight_part(b, w, nodes)
    if source is None or weight is None:
        return None
    nodes.add(mm)
    return _Projection(source, weight, bias, nodes)


def _weight_part(b: LoopBody, w: Value | None, nodes: set[Node]) -> Part | None:
    """A 2-D initializer, or a column range of one read through a Slice in the body."""
    const = b.outer_const(w)
    if const is not None:
        return Part(const) if const.shape is not None and len(const.shape) == 2 else None
    piece = _piece(b, w)
    whole = b.outer_const(piece.projection) if piece is not None else None
    if piece is None or piece.node is None or whole is None or whole.shape is None or len(whole.shape) != 2 \
            or piece.node.op_type != "Slice":
        return None
    nodes.add(piece.node)
    return Part(whole, col0=piece.start)


def _bias_part(b: LoopBody, v: Value | None, nodes: set[Node]) -> Part | None:
    """A bias vector: an initializer, or one row of a 2-D initializer read as
    Squeeze(Split(w, axis 0)) (Keras' GRU) or Gather(w, k)."""
    const = b.outer_const(v)
    if const is not None:
        return Part(const) if const.shape is not None and len(const.shape) == 1 else None
    node = b.body.producer(v) if v is not None else None
    if node is not None and node.op_type == "Squeeze":
        split = b.producer(b.operands(node)[0], "Split")
        if split is None or split.attr("axis", 0) != 0:
            return None
        w = b.outer_const(b.operands(split)[0])
        if w is None or w.shape is None or len(w.shape) != 2 or len(b.body.node_outputs(split)) != w.shape[0]:
            return None
        nodes |= {node, split}
        return Part(w, b.body.node_outputs(split).index(b.operands(node)[0]))
    if node is not None and node.op_type == "Gather" and node.attr("axis", 0) == 0:
        w = b.outer_const(b.operands(node)[0])
        row = const_scalar(b.operands(node)[1])
        if w is None or row is None or w.shape is None or len(w.shape) != 2:
            return None
        nodes.add(node)
        return Part(w, int(row))
    return None
