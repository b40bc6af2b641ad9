"""Transpose optimisation: merge and cancel Transposes, and sink them through ops that do
not care about layout, so that layout changes (NHWC <-> NCHW) meet and cancel.

A front-end translating NHWC ops emits ``Transpose -> NCHW op -> Transpose back`` around
every op. This pass moves each Transpose below the layout-agnostic ops after it
(elementwise math with broadcast-aware constants, Concat/Split, Pad, reductions, Slice,
Squeeze/Unsqueeze, Softmax, ArgMax...; see ``RULES``), rewriting their axes, pads and
constants, until it meets a Transpose to merge with or an op it cannot cross. A push is
made only when a short look-ahead finds it adds no Transposes; a Transpose shared by
several users is duplicated only when that pays. Runs to a fixed point, removes identity
Transposes, recurses into If/Loop/Scan bodies, and keeps numerics and the graph's input
and output names and shapes (a graph output fed by a moved Transpose keeps one).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import LazyTensor, Node, Role, Value
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.transpose_rules import (
    RULES,
    Perm,
    Rewrite,
    compose_perms,
    ints_attr,
    inverse_perm,
    is_identity_perm,
    optional_input,
    permuted_type,
)
from tensorbridge.ir.types import TensorType

_LOOKAHEAD = 4  # ops a push may look through for the Transposes it will cancel
_MAX_SWEEPS = 64  # a guard: sweeps normally reach the fixed point in two or three





# --------------------------------------------------------------------------- planning
class _Kind(enum.Enum):
    CANCEL = "cancel"  # produced by Transpose(x, p): read x
    GIVEN = "given"  # assumed to be produced so (look-ahead only)
    KEEP = "keep"  # all dims 1 (or a 1-D one that stays last): read as is
    VECTOR = "vector"  # a computed 1-D one (per-channel): Unsqueezed, [C] -> [C,1,1]
    CONST = "const"  # a constant, re-laid out
    REUSE = "reuse"  # an existing Transpose(v, p^-1): read it
    INSERT = "insert"  # needs a new Transpose(v, p^-1)


@dataclass(frozen=True)
class _Operand:
    kind: _Kind
    value: Value
    source: Node | None = None  # the Transpose a CANCEL operand bypasses


@dataclass
class _Plan:
    perm: Perm
    operands: dict[int, _Operand]
    rewrite: Rewrite
    delta: int = 0  # Transposes added minus removed at the inputs
    removes: bool = False  # an input Transpose disappears
    inserts: bool = False  # an input Transpose is added


@dataclass
class _Ctx:
    graph: Graph
    report: PassReport
    outer: set[str]  # names subgraphs read: uses the graph's edges do not show
    frozen: set[Node]  # the ops those reads depend on: left alone (see _frozen)
    dead: set[Node] = field(default_factory=set)
    cache: dict[tuple[Value, Perm, int], int] = field(default_factory=dict)
    relaid: dict[tuple[Value, Perm, bool], Value] = field(default_factory=dict)
    keep_weight_layout: bool = False  # named weights keep their shapes (a migration)


def _perm(ctx: _Ctx, node: Node) -> Perm | None:
    """The perm of a live default-domain Transpose; None for anything else."""
    if node.op_type != "Transpose" or node.domain or node in ctx.dead:
        return None
    perm = node.attr("perm")
    if perm is not None:
        return tuple(int(a) for a in perm)
    x = ctx.graph.node_inputs(node)[0]
    return None if x is None or x.shape is None else tuple(reversed(range(len(x.shape))))


def _transposed(ctx: _Ctx, v: Value) -> tuple[Node, Perm] | None:
    t = ctx.graph.producer(v)
    p = None if t is None else _perm(ctx, t)
    return None if t is None or p is None else (t, p)


def _out(ctx: _Ctx, node: Node) -> Value | None:
    return ctx.graph.node_outputs(node)[0]


def _users(ctx: _Ctx, v: Value) -> list[Node]:
    return list(dict.fromkeys(n for n, _ in ctx.graph.consumers(v)))


def _implicit(ctx: _Ctx, v: Value) -> bool:
    """Used as a graph output or by a subgraph: an interface, whose name stays."""
    return v in ctx.graph.outputs or v.name in ctx.outer


def _fits(v: Value, p: Perm, broadcast: bool) -> bool:
    n = len(v.shape) if v.shape is not None else -1
    return 0 <= n <= len(p) if broadcast else n == len(p)


def _operand(ctx: _Ctx, v: Value, p: Perm, broadcast: bool,
             given: Mapping[Value, Perm]) -> _Operand | None:
    """How layout input ``v`` reaches the op once the op runs un-transposed, or None."""
    if v in given:
        return _Operand(_Kind.GIVEN, v) if given[v] == p else None
    src = _transposed(ctx, v)
    if src is not None and src[1] == p:
        x = ctx.graph.node_inputs(src[0])[0]
        return None if x is None else _Operand(_Kind.CANCEL, x, src[0])
    if _fits(v, p, broadcast) and all(d == 1 for d in v.shape or ()):
        return _Operand(_Kind.KEEP, v)
    if isinstance(v.const, np.ndarray | LazyTensor) and v not in ctx.graph.inputs:
        return _Operand(_Kind.CONST, v) if _fits(v, p, broadcast) else None
    if broadcast and v.shape is not None and len(v.shape) == 1 and len(p) > 1:
        return _Operand(_Kind.KEEP if p[-1] == len(p) - 1 else _Kind.VECTOR, v)
    if v.shape is None or len(v.shape) != len(p):
        return None
    for user in _users(ctx, v):
        if _perm(ctx, user) == inverse_perm(p) and _out(ctx, user) is not None:
            return _Operand(_Kind.REUSE, _out(ctx, user))  # type: ignore[arg-type]
    return _Operand(_Kind.INSERT, v)


def _plan(ctx: _Ctx, node: Node, p: Perm, given: Mapping[Value, Perm]) -> _Plan | None:
    """How to run ``node`` on un-transposed inputs, or None when it cannot."""
    rule = RULES.get(node.op_type) if not node.domain else None
    if rule is None or node.subgraphs() or node in ctx.dead or node in ctx.frozen:
        return None
    ins = ctx.graph.node_inputs(node)
    operands: dict[int, _Operand] = {}
    for i in rule.layout if rule.layout is not None else range(len(ins)):
        v = ins[i] if i < len(ins) else None
        op = None if v is None else _operand(ctx, v, p, rule.broadcast, given)
        if v is not None and op is None:
            return None
        if op is not None:
            operands[i] = op
    if not any(o.kind in (_Kind.CANCEL, _Kind.GIVEN) for o in operands.values()):
        return None
    rewrite = rule.rewrite(ctx.graph, node, p)
    if rewrite is None:
        return None
    sources = dict.fromkeys(o.source for o in operands.values() if o.source is not None)
    dying = [t for t in sources if _dies_with(ctx, t, node)]
    inserted = {o.value for o in operands.values() if o.kind is _Kind.INSERT}
    return _Plan(p, operands, rewrite, len(inserted) - len(dying), bool(dying), bool(inserted))


def _dies_with(ctx: _Ctx, t: Node, node: Node) -> bool:
    """Transpose ``t`` is unused once ``node`` stops reading it."""
    y = _out(ctx, t)
    return y is not None and not _implicit(ctx, y) and all(u is node for u in _users(ctx, y))


def _cost(ctx: _Ctx, node: Node, plan: _Plan, depth: int) -> int:
    outs = ctx.graph.node_outputs(node)
    pairs = zip(outs, plan.rewrite.out_perms)
    return plan.delta + sum(_est(ctx, o, q, depth) for o, q in pairs if o is not None)


def _est(ctx: _Ctx, v: Value, q: Perm, depth: int) -> int:
    """Estimated change in the Transpose count when ``v`` becomes ``Transpose(v', q)``:
    Transposes using it merge with it (and vanish when they undo it), users that accept it
    may take it further, and it is materialised once if anything else needs it."""
    if is_identity_perm(q):
        return 0
    key = (v, q, depth)
    if key not in ctx.cache:
        need, merged, pushes = _implicit(ctx, v), 0, []
        for user in _users(ctx, v):
            if user.op_type == "Transpose" and not user.domain:
                r = _perm(ctx, user)
                need = need or r is None or user in ctx.frozen
                merged -= r is not None and user not in ctx.frozen and is_identity_perm(compose_perms(q, r))
                continue
            plan = _plan(ctx, user, q, {v: q}) if depth > 0 else None
            if plan is None:
                need = True
            else:
                pushes.append(_cost(ctx, user, plan, depth - 1))
        gain = sum(min(0, c) for c in pushes)
        ctx.cache[key] = merged + (1 + gain if need else min(1 + gain, sum(pushes)))
    return ctx.cache[key]


# --------------------------------------------------------------------------- rewriting
def _drop_if_dead(ctx: _Ctx, t: Node) -> None:
    outs = [v for v in ctx.graph.node_outputs(t) if v is not None]
    if t not in ctx.dead and not any(ctx.graph.is_used(v) or v.name in ctx.outer for v in outs):
        ctx.graph.remove(t)
        ctx.dead.add(t)


def _add_transpose(ctx: _Ctx, x: Value, p: Perm, like: Node) -> Value:
    (y,) = ctx.graph.add_op("Transpose", [x], {"perm": ints_attr(p)}, name=f"{like.name}_transpose",
                            provenance=like.provenance)
    y.type = permuted_type(x.type, p)
    return y


def _transpose_output(ctx: _Ctx, node: Node, o: Value, q: Perm) -> None:
    """Put ``Transpose(q)`` after output ``o`` of a pushed op, for its users."""
    if is_identity_perm(q):
        return
    g, old_type, interface = ctx.graph, o.type, _implicit(ctx, o)
    o.type = permuted_type(old_type, inverse_perm(q))
    y = _add_transpose(ctx, o, q, node)
    y.type = old_type
    g.replace_all_uses(o, y)
    if interface:  # the value with the old meaning keeps the old name
        name = o.name
        g.rename(o, f"{name}_relaid")
        g.rename(y, name)


def _adopt(ctx: _Ctx, old: Value, new: Value) -> None:
    """A constant nobody reads any more hands its name, role and source key to its
    replacement: a named weight stays named, stored in the layout the graph uses."""
    g = ctx.graph
    if g.is_used(old) or old in g.inputs or old.name in ctx.outer or g.producer(old) is not None:
        return
    name, role, source = old.name, old.role, old.source_name
    g.remove(old)
    g.rename(new, name)
    new.role, new.source_name = role, source


def _cached(ctx: _Ctx, key: tuple[Value, Perm, bool]) -> Value | None:
    g, new = ctx.graph, ctx.relaid.get(key)  # still alive? (names of removed values recur)
    return new if new is not None and g.has_value(new.name) and g.value(new.name) is new else None


def _unsqueezed(ctx: _Ctx, v: Value, p: Perm, like: Node) -> Value:
    """A computed 1-D operand (its dim is the last of the transposed view) in the layout
    under ``p``: [C] -> [C,1,1] for NHWC -> NCHW."""
    g, n, key = ctx.graph, len(p) - 1 - p[-1], (v, p, True)
    new = _cached(ctx, key)
    if new is None:
        axes = list(range(1, n + 1))
        ins = [v, g.add_constant(f"{v.name}_axes", np.array(axes, np.int64))] if g.opset() >= 13 else [v]
        (new,) = g.add_op("Unsqueeze", ins, {} if g.opset() >= 13 else {"axes": ints_attr(axes)},
                          name=f"{like.name}_unsqueeze", provenance=like.provenance)
        if isinstance(v.type, TensorType) and v.type.shape is not None:
            new.type = TensorType(v.type.dtype, v.type.shape + (1,) * n)
        ctx.relaid[key] = new
    return new


def _relaid(ctx: _Ctx, old: Value, p: Perm, broadcast: bool) -> Value:
    """``c`` such that ``Transpose(c, p)`` equals ``old`` (with numpy broadcasting when
    allowed): a per-channel [C] in NHWC becomes [C,1,1] in NCHW."""
    key = (old, p, broadcast)
    new = _cached(ctx, key)
    if new is None:
        data = np.asarray(old.const_array())
        data = np.transpose(data.reshape((1,) * (len(p) - data.ndim) + data.shape), inverse_perm(p))
        while broadcast and data.ndim and data.shape[0] == 1:
            data = data[0]
        new = ctx.graph.add_constant(f"{old.name}_relaid", np.ascontiguousarray(data))
        new.doc = f"{old.name} re-laid out for a pushed Transpose"
        ctx.relaid[key] = new
    return new


def _rewire(ctx: _Ctx, node: Node, plan: _Plan, broadcast: bool) -> None:
    """Point the layout inputs at their un-transposed forms."""
    g = ctx.graph
    ins = g.node_inputs(node)
    done: dict[Value, Value] = {}
    for i, op in plan.operands.items():
        old = ins[i]
        assert old is not None  # operands are planned for wired inputs only
        if old not in done:
            if op.kind is _Kind.CONST:
                done[old] = _relaid(ctx, old, plan.perm, broadcast)
            elif op.kind is _Kind.INSERT:
                done[old] = _add_transpose(ctx, old, inverse_perm(plan.perm), node)
            elif op.kind is _Kind.VECTOR:
                done[old] = _unsqueezed(ctx, old, plan.perm, node)
            else:
                done[old] = op.value
        g.set_input(node, i, done[old])
    for old, new in done.items():
        if old.is_const and new.is_const and new is not old and not (ctx.keep_weight_layout and _named(old)):
            _adopt(ctx, old, new)  # (kept layouts: _tie_relaid_copies turns the copy into ops)


def _apply(ctx: _Ctx, node: Node, plan: _Plan) -> None:
    g = ctx.graph
    rule = RULES.get(node.op_type)
    _rewire(ctx, node, plan, rule.broadcast if rule is not None else True)
    for i, data in plan.rewrite.consts.items():
        old = optional_input(g, node, i)
        new = g.add_constant(f"{old.name if old is not None else node.name + '_axes'}_relaid", data)
        g.set_input(node, i, new)
        if old is not None and old.role is Role.CONSTANT and not old.source_name:
            _adopt(ctx, old, new)
    node.attrs.update(plan.rewrite.attrs)
    for t in dict.fromkeys(o.source for o in plan.operands.values() if o.source is not None):
        _drop_if_dead(ctx, t)
    for o, q in zip(g.node_outputs(node), plan.rewrite.out_perms):
        if o is not None:
            _transpose_output(ctx, node, o, q)


def _bypass(ctx: _Ctx, t: Node, x: Value) -> None:
    """Remove Transpose ``t`` (an identity): its users read ``x``. An interface value
    keeps its name: on ``x`` when ``x`` is a plain intermediate, else on an Identity."""
    g = ctx.graph
    y = _out(ctx, t)
    if y is None:
        return
    keep, name, vtype = _implicit(ctx, y), y.name, y.type
    if keep and (x.role is not Role.INTERMEDIATE or g.producer(x) is None or _implicit(ctx, x)):
        (x,) = g.add_op("Identity", [x], name=f"{t.name}_identity", provenance=t.provenance)
    g.replace_all_uses(y, x)
    g.remove(t)
    ctx.dead.add(t)
    if keep:
        g.rename(x, name)
        x.type = vtype if vtype is not None else x.type


def _merge_twin(ctx: _Ctx, t: Node, x: Value, p: Perm) -> bool:
    """An earlier Transpose of the same value with the same perm serves ``t``'s users."""
    y = _out(ctx, t)
    if y is None or _implicit(ctx, y):
        return False
    for twin in _users(ctx, x):
        if twin is t:
            return False
        twin_out = _out(ctx, twin)
        if _perm(ctx, twin) == p and twin_out is not None:
            ctx.graph.replace_all_uses(y, twin_out)
            _drop_if_dead(ctx, t)
            ctx.report.note(f"merged Transpose {t.name} into its twin {twin.name}")
            return True
    return False


def _visit_transpose(ctx: _Ctx, t: Node) -> bool:
    """Merge ``t`` into the Transpose feeding it; drop it if then an identity."""
    g = ctx.graph
    p, x = _perm(ctx, t), g.node_inputs(t)[0]
    if p is None or x is None:
        return False
    src = _transposed(ctx, x)
    if src is not None:
        first, q = src
        p, x = compose_perms(q, p), g.node_inputs(first)[0]
        g.set_input(t, 0, x)
        t.attrs["perm"] = ints_attr(p)
        _drop_if_dead(ctx, first)
        ctx.report.note(f"merged Transpose {first.name} into {t.name}")
    if x is None:
        return src is not None
    if is_identity_perm(p):
        ctx.report.note(f"removed identity Transpose {t.name}")
        _bypass(ctx, t, x)
        return True
    return _merge_twin(ctx, t, x, p) or src is not None


def _visit(ctx: _Ctx, node: Node) -> bool:
    if node in ctx.frozen:
        return False
    if node.op_type == "Transpose" and not node.domain:
        return _visit_transpose(ctx, node)
    if node.op_type not in RULES or node.domain:
        return False
    best: tuple[int, _Plan] | None = None
    sources = [_transposed(ctx, v) for v in ctx.graph.node_inputs(node) if v is not None]
    for p in dict.fromkeys(s[1] for s in sources if s is not None):
        plan = _plan(ctx, node, p, {})
        if plan is None:
            continue
        cost = _cost(ctx, node, plan, _LOOKAHEAD)
        # at cost 0 a push still sinks a Transpose: one goes at the inputs, none is added
        # (or will go, once its other users, which all accept it, take it too)
        sinks = cost == 0 and not plan.inserts and (plan.removes or _fans_out(ctx, node, plan))
        if (cost < 0 or sinks) and (best is None or cost < best[0]):
            best = (cost, plan)
    if best is None:
        return False
    _apply(ctx, node, best[1])
    ctx.report.note(f"pushed Transpose{list(best[1].perm)} through {node.name} ({node.op_type})")
    return True


def _fans_out(ctx: _Ctx, node: Node, plan: _Plan) -> bool:
    """Each Transpose ``node`` reads is otherwise read only by ops downstream of ``node``
    that can take it too (a diamond such as x * sigmoid(beta * x)): the pushed Transpose
    meets it again there, both cancel, and it is removed."""
    sources = [o.source for o in plan.operands.values() if o.kind is _Kind.CANCEL and o.source is not None]
    out = _out(ctx, node)
    if not sources or out is None:
        return False
    downstream = {n for n in nx.descendants(ctx.graph.nx_view(), out) if isinstance(n, Node)}
    for t in sources:
        y = _out(ctx, t)
        if y is None or _implicit(ctx, y):
            return False
        if any(u is not node and (u not in downstream or _plan(ctx, u, plan.perm, {}) is None)
               for u in _users(ctx, y)):
            return False
    return True


# --------------------------------------------------------------------------- driver
def _outer_names(graph: Graph) -> set[str]:
    """Names the subgraphs of ``graph``'s ops read from enclosing scopes."""
    return {n for node in graph.nodes() for sub in node.subgraphs() for n in sub.outer_names()}


def _frozen(graph: Graph, outer: set[str]) -> set[Node]:
    """The ops computing values that subgraphs read by name. Those reads are not edges, so
    the topological order places an If/Loop after them only by insertion order: an op this
    pass added upstream of such a value could be scheduled after its reader."""
    frozen: set[Node] = set()
    for name in sorted(outer):
        if graph.has_value(name):
            frozen |= graph.ancestors(graph.value(name))
    return frozen


def _optimize(graph: Graph, report: PassReport, keep_weight_layout: bool = False) -> None:
    for node in graph.nodes():
        for sub in node.subgraphs():
            _optimize(sub, report, keep_weight_layout)
    outer = _outer_names(graph)
    ctx = _Ctx(graph, report, outer, _frozen(graph, outer), keep_weight_layout=keep_weight_layout)
    for _ in range(_MAX_SWEEPS):
        changed = False
        for node in graph.nodes():
            if node not in ctx.dead and _visit(ctx, node):
                ctx.cache.clear()
                changed = True
        if not changed:
            break
    else:
        report.details.append(f"stopped after {_MAX_SWEEPS} sweeps in graph {graph.name!r}")
    _tie_relaid_copies(ctx)


def _named(v: Value) -> bool:
    return v.role is not Role.CONSTANT or bool(v.source_name)


def _reshaped(ctx: _Ctx, x: Value, shape: tuple[int, ...], like: Node) -> Value:
    g = ctx.graph
    target = g.add_constant(f"{x.name}_shape", np.array(shape, np.int64))
    (y,) = g.add_op("Reshape", [x, target], name=f"{like.name}_reshape", provenance=like.provenance,
                    output_types=[TensorType(x.dtype, shape) if x.dtype is not None else None])
    return y


def _tie_relaid_copies(ctx: _Ctx) -> None:
    """A named weight that other ops still read in its own layout keeps one identity: its
    re-laid-out copy becomes layout ops on it (an anonymous copy would be a second, frozen
    tensor in a migrated model, apart from the parameter that trains)."""
    g = ctx.graph
    for key, new in list(ctx.relaid.items()):
        old, p, _ = key
        if new.role is not Role.CONSTANT or new.source_name or not old.is_const or not _named(old):
            continue
        alive = g.has_value(old.name) and g.value(old.name) is old
        if not alive or _cached(ctx, key) is None or not g.is_used(new):
            continue
        user = g.consumers(new)[0][0]
        shape = tuple(int(d) for d in np.shape(old.const_array()))
        shape = (1,) * (len(p) - len(shape)) + shape  # broadcast: read with leading 1s
        final = tuple(int(d) for d in np.shape(new.const_array()))
        moved = [a for a in inverse_perm(p) if shape[a] != 1]
        if moved == sorted(moved):  # only 1s move (a per-channel vector): a Reshape does it
            x = _reshaped(ctx, old, final, user)
        else:
            x = _reshaped(ctx, old, shape, user) if len(shape) != len(np.shape(old.const_array())) else old
            x = _add_transpose(ctx, x, inverse_perm(p), user)
            if tuple(shape[i] for i in inverse_perm(p)) != final:  # the leading 1s dropped again
                x = _reshaped(ctx, x, final, user)
        g.replace_all_uses(new, x)
        g.remove(new)
        ctx.report.note(f"{old.name} re-laid out by ops, not copied: other ops read it as it is")


def optimize_transposes(graph: Graph, *, keep_weight_layout: bool = False) -> PassReport:
    """Cancel, merge and sink Transposes in ``graph`` (in place) and its subgraphs.

    Transposes move below layout-agnostic ops (``RULES``) when that adds none; pairs that
    undo each other cancel, consecutive ones merge, identities go. Numerics and the graph's
    input/output names and shapes are kept. A constant a pushed Transpose crosses is
    re-laid out; a named weight takes the new layout unless ``keep_weight_layout`` (a
    migration), which reads it through layout ops instead."""
    report = PassReport("optimize_transposes")
    _optimize(graph, report, keep_weight_layout)
    return report
