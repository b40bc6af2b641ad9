"""The IR graph: a bipartite ``networkx.MultiDiGraph`` of value nodes and op nodes.

Edges go value -> op (key = input index) and op -> value (key = output index). Callers use
the typed API below and never touch the networkx dicts. Order is deterministic: the
topological order breaks ties by insertion order, and names come from a per-graph
:class:`NameAuthority` shared with subgraphs (ONNX names are unique across scopes).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import networkx as nx
import numpy as np

from tensorbridge.ir import schemas
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import (
    CLOCK,
    Attr,
    AttrKind,
    ConstData,
    GraphBase,
    LazyTensor,
    Node,
    Provenance,
    Role,
    Value,
)
from tensorbridge.ir.types import ShapeT, SparseTensorType, TensorType, ValueType
from tensorbridge.ir.values import SparseTensor


class NameAuthority:
    """Hands out unique, stable, readable names: ``base``, then ``base_1``, ``base_2``..."""

    def __init__(self) -> None:
        self._used: set[str] = set()
        self._next: dict[str, int] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._used

    def claim(self, name: str) -> str:
        """Take ``name`` if free, otherwise a fresh variant of it."""
        if name and name not in self._used:
            self._used.add(name)
            return name
        return self.fresh(name or "v")

    def fresh(self, base: str) -> str:
        i = self._next.get(base, 1)
        while f"{base}_{i}" in self._used:
            i += 1
        self._next[base] = i + 1
        name = f"{base}_{i}"
        self._used.add(name)
        return name

    def release(self, name: str) -> None:
        self._used.discard(name)


@dataclass
class ModelInfo:
    """Model-level facts kept for round trips."""

    ir_version: int = 0
    producer_name: str = ""
    producer_version: str = ""
    domain: str = ""
    model_version: int = 0
    doc: str = ""


@dataclass(frozen=True)
class WeightInfo:
    """What the source framework says about one of its weights, beyond the initializer's
    role: kept in :attr:`Graph.weight_info` under the weight's source name (the
    initializer's ``source_name``). Passes that re-lay out a weight keep its source name,
    so this record survives them where a field on the Value would not."""

    trainable: bool = True  # a PARAMETER that trains (PyTorch requires_grad, Keras trainable)
    aliases: tuple[str, ...] = ()  # the same tensor's other source names (tied weights)
    persistent: bool = True  # a BUFFER saved in the state_dict (register_buffer persistent=)


@dataclass
class Function:
    """A model-local function (ONNX FunctionProto): a body graph plus its signature."""

    name: str
    domain: str
    body: Graph
    attributes: tuple[str, ...] = ()
    attribute_defaults: dict[str, Attr] = field(default_factory=dict)
    doc: str = ""


class Graph(GraphBase):
    """A computation graph. Build it with ``add_input``, ``add_constant``, ``add_op``,
    ``set_outputs``; edit it with ``replace_all_uses``, ``set_input`` and ``remove``.

    A graph input may carry a **default value**: an initializer that is also listed among
    ``inputs`` (every ONNX file of IR version < 4 lists all its initializers so, often
    before the data inputs; IR >= 4 allows it to make a weight overridable). Callers feed
    the :attr:`required_inputs` positionally, in order; a :attr:`defaulted_inputs` value
    may be fed by name instead of its initializer data. Constant folding leaves such a
    value alone (it is not a constant to its consumers)."""

    def __init__(self, name: str = "main", *, opset_imports: Mapping[str, int] | None = None,
                 parent: Graph | None = None) -> None:
        self.name = name
        self.parent = parent
        # values and ops are separate namespaces (as in ONNX), shared with subgraphs
        self.names: NameAuthority = parent.names if parent is not None else NameAuthority()
        self.node_names: NameAuthority = parent.node_names if parent is not None else NameAuthority()
        self.opset_imports: dict[str, int] = dict(
            opset_imports if opset_imports is not None
            else (parent.opset_imports if parent is not None else {"": schemas.latest_opset()})
        )
        self.metadata: dict[str, str] = {}
        self.model = ModelInfo()
        # source name -> what the framework said about that weight; one table per model
        self.weight_info: dict[str, WeightInfo] = parent.weight_info if parent is not None else {}
        self.functions: dict[tuple[str, str], Function] = {}
        self.doc = ""
        self._g = nx.MultiDiGraph()
        self._seq = itertools.count()
        self._values: dict[str, Value] = {}
        self._nodes: dict[str, Node] = {}
        self._inputs: list[Value] = []
        self._outputs: list[Value] = []
        self._topo: list[Node] | None = None
        self._version = 0  # bumped by every structural edit (see ``version``)

    # ----------------------------------------------------------------- building
    def add_input(self, name: str, dtype: DType | ValueType | None, shape: ShapeT = None) -> Value:
        """A graph input; ``dtype`` is a DType (with ``shape``), a full ValueType, or None."""
        vtype = TensorType(dtype, _shape(shape)) if isinstance(dtype, DType) else dtype
        v = self._add_value(Value(self.names.claim(name), vtype, role=Role.INPUT))
        self._inputs.append(v)
        self._bump()
        return v

    def add_constant(self, name: str, data: ConstData | Any, *, role: Role = Role.CONSTANT,
                     source_name: str = "") -> Value:
        """An initializer. ``data`` is a numpy array (or scalar), a LazyTensor or SparseTensor."""
        if not isinstance(data, LazyTensor | SparseTensor):
            data = np.asarray(data)
        vtype = _type_of_const(data)
        v = Value(self.names.claim(name), vtype, const=data, role=role, source_name=source_name)
        return self._add_value(v)

    def add_outer_ref(self, name: str, vtype: ValueType | None = None) -> Value:
        """A value this (sub)graph reads from an enclosing graph, by name."""
        if name in self._values:
            return self._values[name]
        v = Value(name, vtype, role=Role.OUTER)
        return self._add_value(v)

    def add_op(self, op_type: str, inputs: Sequence[Value | None], attrs: Mapping[str, Any] | None = None,
               *, domain: str = "", n_outputs: int = 1, outputs: Sequence[str] | None = None,
               name: str | None = None, provenance: Provenance | None = None,
               output_types: Sequence[ValueType | None] | None = None) -> list[Value]:
        """Add an op and its output values; returns the outputs (``None`` for an omitted one).

        ``outputs`` gives output names ("" omits an optional output); otherwise ``n_outputs``
        fresh names derived from the node name are used. ``attrs`` values may be plain
        Python values: their kinds come from the op's schema.
        """
        domain = schemas.norm_domain(domain)
        node = self.add_node(op_type, inputs, attrs, domain=domain, name=name, provenance=provenance,
                             n_outputs=len(outputs) if outputs is not None else n_outputs)
        names = list(outputs) if outputs is not None else [
            node.name if n_outputs == 1 else f"{node.name}_out{i}" for i in range(n_outputs)]
        result: list[Value] = []
        for i, oname in enumerate(names):
            if not oname:
                result.append(None)  # type: ignore[arg-type]
                continue
            vtype = output_types[i] if output_types is not None else None
            result.append(self.add_node_output(node, i, oname, vtype))
        return result

    def add_node_output(self, node: Node, index: int, name: str, vtype: ValueType | None = None) -> Value:
        """Create the value on output ``index`` of ``node`` (a fresh variant if ``name`` is taken)."""
        v = self._add_value(Value(self.names.claim(name), vtype))
        self._g.add_edge(node, v, key=index)
        self._edited()
        return v

    def add_node(self, op_type: str, inputs: Sequence[Value | None], attrs: Mapping[str, Any] | None = None,
                 *, domain: str = "", name: str | None = None, provenance: Provenance | None = None,
                 n_outputs: int = 1) -> Node:
        """Add an op node wired to ``inputs`` but with no output values yet (see add_op)."""
        node = Node(self.node_names.claim(name or op_type.lower()), op_type, schemas.norm_domain(domain),
                    attrs=self._typed_attrs(op_type, domain, attrs or {}),
                    provenance=provenance or Provenance(), n_inputs=len(inputs), n_outputs=n_outputs)
        self._nodes[node.name] = node
        self._g.add_node(node, order=next(self._seq))
        for i, v in enumerate(inputs):
            if v is not None:
                self._check_mine(v)
                self._g.add_edge(v, node, key=i)
        self._edited()
        return node

    def attach_output(self, node: Node, index: int, value: Value) -> None:
        """Make ``value`` (already in this graph, unproduced) output ``index`` of ``node``."""
        self._check_mine(value)
        if self.producer(value) is not None:
            raise ValueError(f"value {value.name!r} already has a producer")
        self._g.add_edge(node, value, key=index)
        self._edited()

    def set_outputs(self, values: Iterable[Value]) -> None:
        vals = list(values)
        for v in vals:
            self._check_mine(v)
        self._outputs = vals
        self._bump()

    def set_inputs(self, values: Iterable[Value]) -> None:
        self._inputs = list(values)
        self._bump()

    def _typed_attrs(self, op_type: str, domain: str, attrs: Mapping[str, Any]) -> dict[str, Attr]:
        if all(isinstance(a, Attr) for a in attrs.values()):
            return dict(attrs)
        opset = self.opset_imports.get(schemas.norm_domain(domain), 1)
        schema = schemas.get_schema(op_type, domain, opset)
        kinds = schemas.attr_kinds(schema) if schema is not None else {}
        return {k: Attr.infer(v, kinds.get(k)) for k, v in attrs.items()}

    def _add_value(self, v: Value) -> Value:
        self._values[v.name] = v
        self._g.add_node(v, order=next(self._seq))
        self._edited()
        return v

    def _check_mine(self, v: Value) -> None:
        if self._values.get(v.name) is not v:
            raise ValueError(
                f"value {v.name!r} does not belong to graph {self.name!r}; in a subgraph, "
                "reference outer values with add_outer_ref(name)"
            )

    # ----------------------------------------------------------------- editing
    def set_input(self, node: Node, index: int, value: Value | None) -> None:
        """Rewire input ``index`` of ``node`` to ``value`` (None: omit an optional input)."""
        for u, _, k in list(self._g.in_edges(node, keys=True)):
            if k == index:
                self._g.remove_edge(u, node, key=k)
        if value is not None:
            self._check_mine(value)
            self._g.add_edge(value, node, key=index)
        node.n_inputs = max(node.n_inputs, index + 1)
        self._edited()

    def replace_all_uses(self, old: Value, new: Value) -> int:
        """Make every consumer (and graph output) of ``old`` use ``new``; returns the count.

        Uses by the op that produces ``new`` are kept, so the insert-after pattern
        (``r = add_op("Relu", [y]); replace_all_uses(y, r)``) does not create a cycle."""
        self._check_mine(new)
        count = 0
        maker = self.producer(new)
        for _, node, k in list(self._g.out_edges(old, keys=True)):
            if node is maker:
                continue
            self._g.remove_edge(old, node, key=k)
            self._g.add_edge(new, node, key=k)
            count += 1
        for i, v in enumerate(self._outputs):
            if v is old:
                self._outputs[i] = new
                count += 1
        count += self._rename_outer_refs(old.name, new.name)
        self._edited()
        return count

    def _rename_outer_refs(self, old: str, new: str) -> int:
        count = 0
        for node in self._nodes.values():
            for sub in node.subgraphs():
                ref = sub._values.get(old)
                if ref is not None and ref.role is Role.OUTER:
                    del sub._values[old]
                    ref.name = new
                    sub._values[new] = ref
                    count += 1
                count += sub._rename_outer_refs(old, new)
        return count

    def remove(self, item: Node | Value, *, force: bool = False) -> None:
        """Remove an op (with its output values) or a value. Refuses while something still
        uses it, unless ``force``."""
        if isinstance(item, Node):
            outs = [v for v in self.node_outputs(item) if v is not None]
            if not force:
                for v in outs:
                    self._check_unused(v, f"op {item.name!r}")
            for v in outs:
                self._drop_value(v)
            self._g.remove_node(item)
            del self._nodes[item.name]
            self.node_names.release(item.name)
        else:
            if not force:
                self._check_unused(item, f"value {item.name!r}")
                if self.producer(item) is not None:
                    raise ValueError(f"value {item.name!r} is produced by an op: remove the op")
            self._drop_value(item)
        self._edited()

    def _check_unused(self, v: Value, what: str) -> None:
        users = [n.name for n, _ in self.consumers(v)]
        if users or any(o is v for o in self._outputs):
            where = f"ops {users}" if users else "the graph outputs"
            raise ValueError(f"cannot remove {what}: {v.name!r} is still used by {where}; "
                             "call replace_all_uses first")

    def _drop_value(self, v: Value) -> None:
        self._g.remove_node(v)
        self._values.pop(v.name, None)
        self._inputs = [i for i in self._inputs if i is not v]
        self._outputs = [o for o in self._outputs if o is not v]
        self.names.release(v.name)

    def rename(self, v: Value, new_name: str) -> str:
        """Rename a value (taking a fresh variant if ``new_name`` is taken)."""
        if new_name == v.name:
            return v.name
        self._check_mine(v)
        old = v.name
        del self._values[old]
        self.names.release(old)
        v.name = self.names.claim(new_name)
        self._values[v.name] = v
        self._rename_outer_refs(old, v.name)
        return v.name

    # ----------------------------------------------------------------- queries
    @property
    def inputs(self) -> tuple[Value, ...]:
        return tuple(self._inputs)

    @property
    def outputs(self) -> tuple[Value, ...]:
        return tuple(self._outputs)

    @property
    def required_inputs(self) -> tuple[Value, ...]:
        """The inputs a caller must feed, in order: those without a default value."""
        return tuple(v for v in self._inputs if not v.role.is_initializer)

    @property
    def defaulted_inputs(self) -> tuple[Value, ...]:
        """The inputs with a default value (an initializer listed as a graph input), in order."""
        return tuple(v for v in self._inputs if v.role.is_initializer)

    def value(self, name: str) -> Value:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"graph {self.name!r} has no value named {name!r}") from None

    def has_value(self, name: str) -> bool:
        return name in self._values

    def node(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise KeyError(f"graph {self.name!r} has no op named {name!r}") from None

    def values(self) -> list[Value]:
        return list(self._values.values())

    def initializers(self) -> list[Value]:
        return [v for v in self._values.values() if v.role.is_initializer]

    def outer_refs(self) -> list[Value]:
        return [v for v in self._values.values() if v.role is Role.OUTER]

    @property
    def version(self) -> int:
        """A counter bumped by every structural edit (nodes or values added or removed, uses
        rewired, inputs or outputs changed): a plan or analysis made at one version is stale
        at another. Edits inside a node's attributes or a value's data are not counted."""
        return self._version

    def _bump(self) -> None:
        self._version += 1
        CLOCK.ticks += 1

    def _edited(self) -> None:
        self._topo = None
        self._bump()

    def nodes(self) -> list[Node]:
        """Op nodes in deterministic topological order (ties: insertion order)."""
        if self._topo is None:
            order = nx.get_node_attributes(self._g, "order")
            try:
                topo = nx.lexicographical_topological_sort(self._with_scope_edges(), key=order.__getitem__)
                self._topo = [n for n in topo if isinstance(n, Node)]
            except nx.NetworkXUnfeasible:
                raise ValueError(f"graph {self.name!r} has a cycle: {self.find_cycle()}") from None
        return list(self._topo)

    def _with_scope_edges(self) -> nx.MultiDiGraph:
        """The graph plus an edge value -> op for each value an op's subgraphs read by name
        (outer-scope references are not edges), so such ops are ordered after those values."""
        extra = []
        for node in self._nodes.values():
            for sub in node.subgraphs():
                for name in sub.outer_names():
                    v = self._values.get(name)
                    if v is not None:
                        extra.append((v, node))
        if not extra:
            return self._g
        g = self._g.copy()
        for v, node in extra:
            g.add_edge(v, node, key=("scope", v.name))
        return g

    def outer_names(self) -> set[str]:
        """Names this graph (or a graph nested in it) reads from enclosing scopes."""
        names = {v.name for v in self.outer_refs()}
        for node in self._nodes.values():
            for sub in node.subgraphs():
                names |= {n for n in sub.outer_names() if n not in self._values or n in names}
        return names

    def find_cycle(self) -> str:
        try:
            cyc = nx.find_cycle(self._g)
        except nx.NetworkXNoCycle:
            return ""
        return " -> ".join(getattr(u, "name", "?") for u, *_ in cyc)

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes())

    def node_inputs(self, node: Node) -> list[Value | None]:
        ins: list[Value | None] = [None] * node.n_inputs
        for u, _, k in self._g.in_edges(node, keys=True):
            if k >= len(ins):
                ins.extend([None] * (k + 1 - len(ins)))
            ins[k] = u
        return ins

    def node_outputs(self, node: Node) -> list[Value | None]:
        outs: list[Value | None] = [None] * node.n_outputs
        for _, v, k in self._g.out_edges(node, keys=True):
            if k >= len(outs):
                outs.extend([None] * (k + 1 - len(outs)))
            outs[k] = v
        return outs

    def producer(self, value: Value) -> Node | None:
        for u in self._g.predecessors(value):
            return u  # type: ignore[no-any-return]
        return None

    def producers(self, value: Value) -> list[Node]:
        return list(self._g.predecessors(value))

    def consumers(self, value: Value) -> list[tuple[Node, int]]:
        return sorted(((n, k) for _, n, k in self._g.out_edges(value, keys=True)),
                      key=lambda nk: (self._g.nodes[nk[0]]["order"], nk[1]))

    def is_used(self, value: Value) -> bool:
        return self._g.out_degree(value) > 0 or any(o is value for o in self._outputs)

    def edge_ports(self, node: Node) -> tuple[list[int], list[int]]:
        """Input and output port keys actually wired (may repeat when the graph is broken)."""
        ins = sorted(k for *_, k in self._g.in_edges(node, keys=True))
        outs = sorted(k for *_, k in self._g.out_edges(node, keys=True))
        return ins, outs

    def nx_view(self) -> nx.MultiDiGraph:
        """Read-only view of the underlying networkx graph (for algorithms, not for edits)."""
        return self._g.copy(as_view=True)

    def ancestors(self, value: Value) -> set[Node]:
        return {n for n in nx.ancestors(self._g, value) if isinstance(n, Node)}

    def opset(self, domain: str = "") -> int:
        return self.opset_imports.get(schemas.norm_domain(domain), 1)

    def subgraph(self, name: str) -> Graph:
        """A new empty graph nested in this one (for If/Loop/Scan bodies)."""
        return Graph(name, parent=self)

    def with_subgraphs(self) -> list[Graph]:
        """This graph and every graph nested in it (If/Loop/Scan bodies, at any depth)."""
        out: list[Graph] = [self]
        for node in self.nodes():
            for sub in node.subgraphs():
                out += sub.with_subgraphs()
        return out

    def weight_of(self, v: Value) -> WeightInfo:
        """The source framework's facts about initializer ``v`` (defaults when it recorded none)."""
        return self.weight_info.get(v.source_name, _NO_INFO) if v.source_name else _NO_INFO

    def parameter_count(self) -> int:
        return sum(int(np.prod(cast("tuple[int, ...]", v.shape or ()), dtype=np.int64))
                   for v in self.initializers()
                   if v.role is not Role.CONSTANT or v.source_name)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self._nodes)} ops, {len(self._values)} values)"


_NO_INFO = WeightInfo()


def _shape(shape: ShapeT | Sequence[Any]) -> ShapeT:
    if shape is None:
        return None
    return tuple(d if d is None or isinstance(d, str) else int(d) for d in shape)


def _type_of_const(data: ConstData) -> ValueType:
    if isinstance(data, SparseTensor):
        return SparseTensorType(DType.from_numpy(data.values.dtype), tuple(data.dims))
    if isinstance(data, LazyTensor):
        return TensorType(data.dtype, tuple(data.shape))
    return TensorType(DType.from_numpy(data.dtype), tuple(int(d) for d in data.shape))


__all__ = ["Attr", "AttrKind", "Function", "Graph", "ModelInfo", "NameAuthority", "Node",
           "Provenance", "Role", "Value", "WeightInfo"]
