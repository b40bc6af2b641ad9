"""``verify(graph)``: structural and schema checks, with messages that say how to fix.

Called at every layer boundary (after each importer, front-end and pass) and in tests.
All problems are collected and raised together as one :class:`VerificationError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import SupportsInt, cast

import networkx as nx
import onnx.defs

from tensorbridge.ir import schemas
from tensorbridge.ir.errors import VerificationError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import AttrKind, Node, Role, Value
from tensorbridge.ir.types import (
    OptionalType,
    SequenceType,
    SparseTensorType,
    TensorType,
    ValueType,
)

_Formal = onnx.defs.OpSchema.FormalParameterOption


def verify(graph: Graph, *, check_schema: bool = True) -> None:
    """Raise :class:`VerificationError` listing every problem found in ``graph`` and its
    subgraphs; return None when the graph is sound."""
    problems = list(_problems(graph, check_schema, root=graph))
    if problems:
        raise VerificationError(graph.name, problems)


def _problems(g: Graph, check_schema: bool, root: Graph) -> Iterator[str]:
    yield from _structure(g)
    for node in _safe_nodes(g):
        if check_schema:
            yield from _schema(g, node, root)
        yield from _body_arity(g, node)
        for sub in node.subgraphs():
            for p in _problems(sub, check_schema, root):
                yield f"in subgraph {sub.name!r} of node {node.name!r}: {p}"


def _safe_nodes(g: Graph) -> list[Node]:
    try:
        return g.nodes()
    except ValueError:
        # cycle already reported by _structure; visit in insertion order
        return [n for n in g.nx_view().nodes if isinstance(n, Node)]


def _structure(g: Graph) -> Iterator[str]:
    view = g.nx_view()
    if not nx.is_directed_acyclic_graph(view):
        yield (f"the graph has a cycle ({g.find_cycle()}); a value must not depend on itself. "
               "Break the cycle (loops belong in a Loop/Scan body)")
    for u, v in view.edges():
        if isinstance(u, Node) == isinstance(v, Node):
            yield (f"edge {getattr(u, 'name', u)!r} -> {getattr(v, 'name', v)!r} joins two "
                   f"{'ops' if isinstance(u, Node) else 'values'}; edges must alternate value/op")
    for n in view.nodes:
        if isinstance(n, Value):
            yield from _value_problems(g, n)
        else:
            yield from _port_problems(g, n)
    for v in g.outputs:
        if not g.has_value(v.name) or g.value(v.name) is not v:
            yield f"graph output {v.name!r} is not a value of this graph; add it before set_outputs"
    for v in g.inputs:
        if v.role is not Role.INPUT and not v.role.is_initializer:
            yield (f"graph input {v.name!r} has role {v.role.value}; inputs must be INPUT values "
                   "(or initializers, as overridable defaults)")


def _value_problems(g: Graph, v: Value) -> Iterator[str]:
    producers = g.producers(v)
    if len(producers) > 1:
        yield (f"value {v.name!r} is produced by {len(producers)} ops "
               f"({', '.join(p.name for p in producers)}); each value has one producer")
    if producers:
        if v.role is not Role.INTERMEDIATE:
            yield f"value {v.name!r} is a {v.role.value} but is also produced by op {producers[0].name!r}"
        return
    if v.role is Role.INTERMEDIATE and (g.is_used(v)):
        users = ", ".join(n.name for n, _ in g.consumers(v)) or "the graph outputs"
        yield (f"value {v.name!r} is used by {users} but nothing produces it; it must be a graph "
               "input, an initializer, an outer-scope reference or an op output")
    if v.role is Role.OUTER and not _resolves_outside(g, v.name):
        yield (f"subgraph reads outer value {v.name!r} but no enclosing graph defines it; "
               "check the name or add it to the enclosing graph")
    if v.role.is_initializer and v.const is None:
        yield f"initializer {v.name!r} has no data"


def _resolves_outside(g: Graph, name: str) -> bool:
    p = g.parent
    while p is not None:
        if p.has_value(name):
            return True
        p = p.parent
    # a function body or detached subgraph: cannot tell, accept
    return g.parent is None


def _port_problems(g: Graph, node: Node) -> Iterator[str]:
    ins, outs = g.edge_ports(node)
    if len(set(ins)) != len(ins):
        yield f"op {node.name!r} has two values wired to the same input port; use set_input"
    if len(set(outs)) != len(outs):
        yield f"op {node.name!r} has two values on the same output port"
    if ins and ins[-1] >= node.n_inputs:
        yield f"op {node.name!r} has an input on port {ins[-1]} but declares {node.n_inputs} inputs"


def _schema(g: Graph, node: Node, root: Graph) -> Iterator[str]:
    domain = node.domain
    opset = g.opset_imports.get(domain)
    function = root.functions.get((domain, node.op_type))
    if function is not None:
        yield from _call_arity(node, function.body)
        return
    where = f"op {node.name!r} ({_qual(node)})"
    if opset is None:
        yield (f"{where}: domain {domain or 'ai.onnx'!r} is not in the graph's opset imports "
               f"{dict(g.opset_imports)}; add it to graph.opset_imports")
        return
    schema = schemas.get_schema(node.op_type, domain, opset)
    if schema is None:
        yield _unknown_op(where, node, opset)
        return
    ins = g.node_inputs(node)
    outs = g.node_outputs(node)
    yield from _arity(where, schema, ins, "input", schema.min_input, schema.max_input, node.n_inputs)
    yield from _arity(where, schema, outs, "output", schema.min_output, schema.max_output, node.n_outputs)
    yield from _attributes(where, node, schema)
    yield from _types(where, schema, ins, outs)


def _call_arity(node: Node, body: Graph) -> Iterator[str]:
    """A call of a model-local function passes at most its inputs, takes at most its outputs."""
    where = f"op {node.name!r} (a call of function {_qual(node)})"
    for kind, used, declared in (("input", node.n_inputs, len(body.inputs)),
                                 ("output", node.n_outputs, len(body.outputs))):
        if used > declared:
            yield (f"{where}: has {used} {kind}s but the function declares {declared}; "
                   f"pass at most {declared}")


def _body_arity(g: Graph, node: Node) -> Iterator[str]:
    """If/Loop/Scan/SequenceMap bodies agree with the node that runs them (ONNX's rules;
    the runtime would otherwise pair values wrongly or run out of them)."""
    if node.domain != "":
        return
    bodies = {k: a.value for k, a in node.attrs.items() if a.kind == AttrKind.GRAPH and isinstance(a.value, Graph)}
    where = f"op {node.name!r} ({node.op_type})"
    if node.op_type == "If":
        yield from _if_arity(where, node, bodies)
    elif node.op_type == "Loop" and "body" in bodies:
        yield from _loop_arity(where, node, bodies["body"])
    elif node.op_type == "Scan" and "body" in bodies:
        yield from _scan_arity(where, node, bodies["body"], g.opset(""))
    elif node.op_type == "SequenceMap" and "body" in bodies:
        body = bodies["body"]
        if len(body.inputs) != node.n_inputs or len(body.outputs) != node.n_outputs:
            yield (f"{where}: body takes {len(body.inputs)} inputs and returns {len(body.outputs)} "
                   f"outputs, but the node has {node.n_inputs} inputs and {node.n_outputs} outputs; "
                   "make them match")


def _if_arity(where: str, node: Node, bodies: dict[str, Graph]) -> Iterator[str]:
    then, other = bodies.get("then_branch"), bodies.get("else_branch")
    if then is not None and other is not None and len(then.outputs) != len(other.outputs):
        yield (f"{where}: then_branch returns {len(then.outputs)} outputs but else_branch "
               f"returns {len(other.outputs)}; both branches must return the node's "
               f"{node.n_outputs} outputs")
        return
    for name, branch in (("then_branch", then), ("else_branch", other)):
        if branch is None:
            continue
        if len(branch.outputs) != node.n_outputs:
            yield (f"{where}: {name} returns {len(branch.outputs)} outputs but the node has "
                   f"{node.n_outputs}; both branches must return one value per node output")
        if branch.inputs:
            yield (f"{where}: {name} declares {len(branch.inputs)} inputs; If branches take none "
                   "(they read outer values by name)")


def _loop_arity(where: str, node: Node, body: Graph) -> Iterator[str]:
    # inputs: M, cond, N carried values; body: (iteration, cond, N carried) -> (cond, N carried, K scans)
    carried = node.n_inputs - 2
    if carried < 0:
        return  # the schema check reports the missing inputs
    if len(body.inputs) != 2 + carried:
        yield (f"{where}: body takes {len(body.inputs)} inputs but the node passes {2 + carried} "
               f"(iteration number, condition and {carried} loop-carried values); make them match")
    if len(body.outputs) != 1 + node.n_outputs or node.n_outputs < carried:
        yield (f"{where}: body returns {len(body.outputs)} outputs but the node has "
               f"{node.n_outputs} outputs and {carried} loop-carried values; the body must return "
               f"the condition, then one value per node output ({1 + max(node.n_outputs, carried)} in all)")


def _scan_arity(where: str, node: Node, body: Graph, opset: int) -> Iterator[str]:
    # Scan-8 takes a sequence_lens input first; inputs: N states then M scanned tensors
    given = node.n_inputs - (1 if opset < 9 else 0)
    scanned = node.attrs["num_scan_inputs"].value if "num_scan_inputs" in node.attrs else None
    if len(body.inputs) != given:
        yield (f"{where}: body takes {len(body.inputs)} inputs but the node passes {given} "
               "(states then scanned tensors); make them match")
        return
    if not isinstance(scanned, int) or not 1 <= scanned <= given:
        yield (f"{where}: num_scan_inputs is {scanned} but the node passes {given} state and "
               f"scanned inputs; set it to the number of scanned inputs (1..{given})")
        return
    states = given - scanned
    if len(body.outputs) != node.n_outputs or node.n_outputs < states:
        yield (f"{where}: body returns {len(body.outputs)} outputs but the node has "
               f"{node.n_outputs} outputs and {states} states; the body returns the states, then "
               "the scan outputs, one per node output")
        return
    lengths = {"scan_input_axes": scanned, "scan_input_directions": scanned, "directions": scanned,
               "scan_output_axes": node.n_outputs - states, "scan_output_directions": node.n_outputs - states}
    for name, want in lengths.items():
        a = node.attrs.get(name)
        if a is not None and isinstance(a.value, tuple) and len(a.value) != want:
            yield f"{where}: {name} has {len(a.value)} entries for {want} tensors; give one per tensor"


def _qual(node: Node) -> str:
    return f"{node.domain}::{node.op_type}" if node.domain else node.op_type


def _unknown_op(where: str, node: Node, opset: int) -> str:
    if node.domain in schemas.STANDARD_DOMAINS:
        known = schemas.get_schema(node.op_type, node.domain, schemas.latest_opset(node.domain))
        if known is not None:
            return (f"{where}: {node.op_type} does not exist at opset {opset} (it was introduced "
                    f"in opset {known.since_version}); raise the model's opset import")
        close = schemas.close_ops(node.op_type, node.domain)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        return f"{where}: no such operator in domain {node.domain or 'ai.onnx'!r}.{hint}"
    if schemas.is_own_domain(node.domain):
        ours = ", ".join(schemas.ops_in_domain(node.domain))
        base = schemas.OWN_DOMAINS[node.domain].get(node.op_type)
        if base is not None:  # the standard op it follows is missing at this opset
            return (f"{where}: {base} does not exist at ai.onnx opset {opset}, which this domain "
                    "follows; import the domain at the graph's ai.onnx opset")
        return (f"{where}: tensorbridge's domain {node.domain!r} has no op {node.op_type!r} "
                f"(it has: {ours}); use one of those or a standard op")
    return (f"{where}: custom domain {node.domain!r} has no schema and no model-local function "
            "defines this op, so it cannot be checked or run; express it in standard ONNX ops "
            "or ship it as a model-local function")


def _arity(where: str, schema: onnx.defs.OpSchema, actual: list[Value | None], kind: str,
           lo: int, hi: int, declared: int) -> Iterator[str]:
    n = declared
    while n and actual[n - 1] is None and kind == "input":
        n -= 1
    if n < lo or n > hi:
        yield (f"{where}: has {n} {kind}s, but {schema.name}-{schema.since_version} takes "
               f"{lo}..{hi if hi < 2**31 - 1 else 'N'}; fix the node's {kind}s")
        return
    formals = schema.inputs if kind == "input" else schema.outputs
    for i, val in enumerate(actual[:n]):
        f = formals[min(i, len(formals) - 1)] if formals else None
        if val is None and f is not None and f.option == _Formal.Single and kind == "input":
            yield (f"{where}: required {kind} {i} ({f.name!r}) of {schema.name} is missing; "
                   f"wire a value to port {i}")


def _attributes(where: str, node: Node, schema: onnx.defs.OpSchema) -> Iterator[str]:
    declared = schema.attributes
    for name, attr in node.attrs.items():
        spec = declared.get(name)
        if spec is None:
            known = ", ".join(sorted(declared)) or "none"
            yield (f"{where}: unknown attribute {name!r} for {schema.name}-{schema.since_version} "
                   f"(known: {known}); remove or rename it")
            continue
        want = AttrKind(int(cast(SupportsInt, spec.type)))
        if attr.kind != want:
            yield (f"{where}: attribute {name!r} is {attr.kind.name} but "
                   f"{schema.name}-{schema.since_version} requires {want.name}; convert the value")
    for name, spec in declared.items():
        if spec.required and name not in node.attrs:
            yield f"{where}: required attribute {name!r} is missing; set it"


def _types(where: str, schema: onnx.defs.OpSchema, ins: list[Value | None],
           outs: list[Value | None]) -> Iterator[str]:
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    bound: dict[str, str] = {}
    pairs = [(f, v, "input") for f, v in _zip_formals(schema.inputs, ins)]
    pairs += [(f, v, "output") for f, v in _zip_formals(schema.outputs, outs)]
    for formal, val, kind in pairs:
        if val is None or val.type is None:
            continue
        ts = type_string(val.type)
        if ts is None:
            continue
        param = formal.type_str
        if param in allowed:
            if ts not in allowed[param]:
                yield (f"{where}: {kind} {val.name!r} has type {ts}, not allowed for "
                       f"{formal.name!r} (allowed: {', '.join(sorted(allowed[param]))}); insert a Cast")
                continue
            homogeneous = formal.is_homogeneous or formal.option != _Formal.Variadic
            if homogeneous and bound.setdefault(param, ts) != ts:
                yield (f"{where}: {kind} {val.name!r} has type {ts} but another {param} of this "
                       f"op is {bound[param]}; they must match (insert a Cast)")
        elif ts != param and not param.startswith("seq(") and "(" in param:
            yield f"{where}: {kind} {val.name!r} has type {ts}, expected {param}"


def _zip_formals(formals: Sequence[onnx.defs.OpSchema.FormalParameter],
                 actual: list[Value | None]) -> Iterator[tuple[onnx.defs.OpSchema.FormalParameter, Value | None]]:
    if not formals:
        return
    for i, v in enumerate(actual):
        yield formals[min(i, len(formals) - 1)], v


def type_string(t: ValueType | None) -> str | None:
    """ONNX's spelling of a type, e.g. ``tensor(float)``, ``seq(tensor(int64))``."""
    if t is None:
        return None
    if isinstance(t, TensorType):
        return f"tensor({_dtype_str(t.dtype.name)})"
    if isinstance(t, SparseTensorType):
        return f"sparse_tensor({_dtype_str(t.dtype.name)})"
    if isinstance(t, SequenceType):
        inner = type_string(t.elem)
        return None if inner is None else f"seq({inner})"
    if isinstance(t, OptionalType):
        inner = type_string(t.elem)
        return None if inner is None else f"optional({inner})"
    return None


_DTYPE_STR = {"FLOAT": "float", "DOUBLE": "double", "FLOAT16": "float16", "BFLOAT16": "bfloat16",
              "BOOL": "bool", "STRING": "string", "COMPLEX64": "complex64", "COMPLEX128": "complex128"}


def _dtype_str(name: str) -> str:
    return _DTYPE_STR.get(name, name.lower())
