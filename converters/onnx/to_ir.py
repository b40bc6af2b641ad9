"""ONNX ModelProto (or .onnx path) -> IR Graph.

Reads every standard construct: initializers (dense, sparse, external), value_info, typed
attributes (incl. subgraphs with outer-scope references), sequence/optional/map types,
model-local functions, opset imports, metadata_props and node provenance.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, numpy_helper

from converters.onnx import external
from converters.onnx.protos import PROV_KEYS, to_array, type_from_proto
from ir.dtypes import DType
from ir.errors import ModelLoadError, TensorbridgeError, VerificationError
from ir.graph import Function, Graph
from ir.node import Attr, AttrKind, LazyTensor, Provenance, Role, Value
from ir.values import SparseTensor
from ir.verify import verify


def load_model_proto(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Parse a .onnx file without following external data (that is resolved lazily)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(str(p), "no such file", "Check the path") from None
    except OSError as e:
        raise ModelLoadError(str(p), f"cannot read the file ({e.strerror})") from e
    try:
        model = onnx.ModelProto.FromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as e:
        raise ModelLoadError(str(p), f"not a valid ONNX protobuf ({e})",
                             "The file is truncated or corrupt; re-export or re-download it") from e
    if not model.HasField("graph"):
        raise ModelLoadError(str(p), "the ModelProto has no graph",
                             "The file is empty, truncated or not an ONNX model")
    return model


def to_ir(model: onnx.ModelProto | str | os.PathLike[str], *, check: bool = True) -> Graph:
    """Convert an ONNX model (object or path) to an IR graph; ``verify`` it unless told not to."""
    if isinstance(model, onnx.ModelProto):
        origin, base_dir = "<ModelProto>", None
        proto = model
    else:
        origin, base_dir = str(model), Path(model).resolve().parent
        proto = load_model_proto(model)
    # a model we parsed ourselves is ours to consume: drop each tensor's bytes once copied
    reader = _Reader(origin, base_dir, consume=not isinstance(model, onnx.ModelProto))
    graph = reader.model(proto)
    if check:
        try:
            verify(graph)
        except VerificationError as e:
            raise ModelLoadError(origin, f"the model is not a valid graph:\n{e}",
                                 "Fix the model in its exporter") from e
    return graph


class _Reader:
    def __init__(self, origin: str, base_dir: Path | None, consume: bool = False) -> None:
        self.origin = origin
        self.base_dir = base_dir
        self.consume = consume
        # per graph: name as written in the file -> IR value (names may be made unique)
        self.scopes: dict[Graph, dict[str, Value]] = {}

    def model(self, proto: onnx.ModelProto) -> Graph:
        opsets = {(o.domain if o.domain != "ai.onnx" else ""): int(o.version) for o in proto.opset_import}
        if "" not in opsets and proto.ir_version < 3:
            opsets[""] = 1
        g = Graph(proto.graph.name or "main", opset_imports=opsets)
        m = g.model
        m.ir_version = int(proto.ir_version)
        m.producer_name, m.producer_version = proto.producer_name, proto.producer_version
        m.domain, m.model_version, m.doc = proto.domain, int(proto.model_version), proto.doc_string
        g.metadata = {p.key: p.value for p in proto.metadata_props}
        for f in proto.functions:
            self.function(g, f)
        self.graph_body(g, proto.graph)
        return g

    def function(self, g: Graph, f: onnx.FunctionProto) -> None:
        body = Graph(f.name, opset_imports={(o.domain if o.domain != "ai.onnx" else ""): int(o.version)
                                            for o in f.opset_import})
        for name in f.input:
            self._define(body, name, body.add_input(name, None))
        self.nodes(body, f.node, f"function {f.domain}::{f.name}")
        body.set_outputs(self._lookup(body, n, f"function {f.name} output") for n in f.output)
        defaults = {a.name: self.attr(a, body) for a in f.attribute_proto}
        g.functions[(f.domain, f.name)] = Function(
            f.name, f.domain, body, tuple(f.attribute) + tuple(defaults), defaults, f.doc_string)

    def graph_body(self, g: Graph, gp: onnx.GraphProto) -> None:
        g.doc = gp.doc_string
        self.scopes.setdefault(g, {})
        for t in gp.initializer:
            self.initializer(g, t)
        for st in gp.sparse_initializer:
            self._define(g, st.values.name, g.add_constant(st.values.name, self.sparse(st)))
        scope = self.scopes[g]
        inputs = []
        for vi in gp.input:
            if vi.name in scope:  # an initializer also listed as input (IR < 4): a default
                inputs.append(scope[vi.name])
                continue
            vtype = type_from_proto(vi.type) if vi.HasField("type") else None
            inputs.append(self._define(g, vi.name, g.add_input(vi.name, vtype)))
        g.set_inputs(inputs)
        self.nodes(g, gp.node, f"graph {g.name!r}")
        types = {vi.name: vi for vi in list(gp.value_info) + list(gp.output)}
        for name, vi in types.items():
            if name in scope and vi.HasField("type"):
                v = scope[name]
                if not v.role.is_initializer and v.role is not Role.OUTER:
                    v.type = type_from_proto(vi.type)
                v.doc = v.doc or vi.doc_string
        g.set_outputs(self._lookup(g, vi.name, "graph output") for vi in gp.output)

    def initializer(self, g: Graph, t: onnx.TensorProto) -> Value:
        data: LazyTensor | np.ndarray
        if external.is_external(t):
            data = external.lazy_tensor(t, self.base_dir, self.origin)
        else:
            data = to_array(t, self.origin)
            if self.consume:  # peak memory: weights held once, not proto + arrays
                t.ClearField("raw_data")
        v = self._define(g, t.name, g.add_constant(t.name, data))
        v.doc = t.doc_string
        return v

    def sparse(self, st: onnx.SparseTensorProto) -> SparseTensor:
        return SparseTensor(to_array(st.values, self.origin), numpy_helper.to_array(st.indices),
                            tuple(int(d) for d in st.dims))

    def nodes(self, g: Graph, nodes: Iterable[onnx.NodeProto], where: str) -> None:
        errors: list[str] = []
        for i, n in enumerate(nodes):
            try:
                self.node(g, n, i)
            except TensorbridgeError as e:
                errors.append(str(e))
        if errors:
            raise ModelLoadError(self.origin, f"in {where}: " + "; ".join(errors),
                                 "Fix the listed nodes")

    def node(self, g: Graph, n: onnx.NodeProto, index: int) -> None:
        label = n.name or f"#{index} ({n.op_type})"
        inputs = [self._lookup(g, name, f"node {label!r} input {k}") if name else None
                  for k, name in enumerate(n.input)]
        attrs = {a.name: self.attr(a, g) for a in n.attribute}
        meta = {p.key: p.value for p in n.metadata_props}
        prov = Provenance(**{f: meta.pop(k) for f, k in PROV_KEYS.items() if k in meta})
        if not prov.framework:
            prov = Provenance("onnx", source_op=n.name)
        node = g.add_node(n.op_type, inputs, attrs, domain=n.domain, name=n.name or n.op_type.lower(),
                          provenance=prov, n_outputs=len(n.output))
        node.overload, node.doc = n.overload, n.doc_string
        scope = self.scopes[g]
        for k, name in enumerate(n.output):
            if not name:
                continue
            if name in scope:
                raise ModelLoadError(self.origin, f"node {label!r} writes {name!r}, which is "
                                     "already defined in this graph; ONNX values are assigned once")
            scope[name] = g.add_node_output(node, k, name)

    def attr(self, a: onnx.AttributeProto, g: Graph) -> Attr:
        if a.ref_attr_name:
            return Attr(AttrKind(a.type), None, ref=a.ref_attr_name)
        t = a.type
        if t == AttributeProto.GRAPH:
            return Attr(AttrKind.GRAPH, self.subgraph(g, a.g))
        if t == AttributeProto.GRAPHS:
            return Attr(AttrKind.GRAPHS, tuple(self.subgraph(g, s) for s in a.graphs))
        if t == AttributeProto.TENSOR:
            return Attr(AttrKind.TENSOR, to_array(a.t, self.origin))
        if t == AttributeProto.TENSORS:
            return Attr(AttrKind.TENSORS, tuple(to_array(x, self.origin) for x in a.tensors))
        if t == AttributeProto.SPARSE_TENSOR:
            return Attr(AttrKind.SPARSE_TENSOR, self.sparse(a.sparse_tensor))
        if t == AttributeProto.SPARSE_TENSORS:
            return Attr(AttrKind.SPARSE_TENSORS, tuple(self.sparse(s) for s in a.sparse_tensors))
        if t == AttributeProto.TYPE_PROTO:
            return Attr(AttrKind.TYPE_PROTO, type_from_proto(a.tp))
        if t == AttributeProto.TYPE_PROTOS:
            return Attr(AttrKind.TYPE_PROTOS, tuple(type_from_proto(x) for x in a.type_protos))
        simple = {
            AttributeProto.FLOAT: lambda: float(np.float32(a.f)),
            AttributeProto.INT: lambda: int(a.i),
            AttributeProto.STRING: lambda: a.s.decode("utf-8", errors="surrogateescape"),
            AttributeProto.FLOATS: lambda: tuple(float(np.float32(x)) for x in a.floats),
            AttributeProto.INTS: lambda: tuple(int(x) for x in a.ints),
            AttributeProto.STRINGS: lambda: tuple(s.decode("utf-8", errors="surrogateescape") for s in a.strings),
        }
        if t not in simple:
            raise ModelLoadError(self.origin, f"attribute {a.name!r} has unknown type code {t}",
                                 "The model was written by a newer or broken exporter")
        return Attr(AttrKind(t), simple[t]())

    def subgraph(self, parent: Graph, gp: onnx.GraphProto) -> Graph:
        sub = parent.subgraph(gp.name or "body")
        self.graph_body(sub, gp)
        return sub

    def _define(self, g: Graph, original: str, v: Value) -> Value:
        self.scopes.setdefault(g, {})[original] = v
        return v

    def _lookup(self, g: Graph, name: str, what: str) -> Value:
        """Resolve ``name`` in ``g``'s scope, then in enclosing scopes (an outer reference)."""
        scope = self.scopes.setdefault(g, {})
        if name in scope:
            return scope[name]
        outer: Graph | None = g.parent
        while outer is not None:
            found = self.scopes.get(outer, {}).get(name)
            if found is not None:
                return self._define(g, name, g.add_outer_ref(found.name, found.type))
            outer = outer.parent
        raise ModelLoadError(self.origin, f"{what} refers to {name!r}, which is not defined before "
                             "it is used (not a graph input, initializer, earlier node output or "
                             "outer-scope value)", "The model is not topologically sorted or is "
                             "missing a value; re-export it or sort it")


__all__ = ["DType", "load_model_proto", "to_ir"]
