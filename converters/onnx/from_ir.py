"""IR Graph -> ONNX ModelProto.

Deterministic: nodes in the graph's topological order, initializers and value_info in
insertion order, no timestamps or random names. Provenance of framework-born ops goes to
NodeProto.metadata_props.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import onnx
from onnx import AttributeProto, helper

from tensorbridge.converters.onnx.protos import (
    PROV_KEYS,
    fill_raw,
    from_array,
    raw_data,
    type_to_proto,
)
from tensorbridge.ir import schemas
from tensorbridge.ir.errors import ConversionError, TensorbridgeError, UnsupportedOpError
from tensorbridge.ir.graph import Function, Graph
from tensorbridge.ir.node import Attr, AttrKind, LazyTensor, Node, Role, Value
from tensorbridge.ir.values import SparseTensor
from tensorbridge.ir.verify import verify

DEFAULT_PRODUCER = "tensorbridge"
# metadata_props on nodes needs IR version 10
_NODE_METADATA_IR = 10
# from IR version 4 on, initializers need not be graph inputs too
_INITIALIZERS_NOT_INPUTS_IR = 4
# the IR version of a model written from a graph with none (or an older one upgraded)
_NEW_IR = 8


def from_ir(graph: Graph, opset: int | None = None, *, check: bool = True,
            release_weights: bool = False) -> onnx.ModelProto:
    """Serialize ``graph`` as a ModelProto, converting to ``opset`` when given.

    ``release_weights`` moves each initializer's data into the proto (the graph's values
    lose their data), so a conversion holds one copy of the weights, not two; for callers
    that discard the graph afterwards."""
    if check:
        verify(graph)
    # Built in place: helper.make_graph/make_model would copy every initializer twice more.
    model = onnx.ModelProto()
    gp = model.graph
    m = graph.model
    # IR < 4 lists every initializer as a graph input too; written at a current IR version
    # instead, where those listings would make every weight an overridable input
    upgrade = 0 < m.ir_version < _INITIALIZERS_NOT_INPUTS_IR
    _fill_graph(gp, graph, release_weights, drop_defaults=upgrade)
    opsets = [helper.make_opsetid(d, v) for d, v in sorted(graph.opset_imports.items())]
    model.opset_import.extend(opsets)
    model.functions.extend(_function_proto(f) for _, f in sorted(graph.functions.items()))
    model.producer_name = m.producer_name or DEFAULT_PRODUCER
    model.producer_version = m.producer_version
    if m.doc:
        model.doc_string = m.doc
    model.domain, model.model_version = m.domain, m.model_version
    needed = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    if _has_node_metadata(gp):
        needed = max(needed, _NODE_METADATA_IR)
    model.ir_version = max(m.ir_version, needed) if m.ir_version and not upgrade else max(needed, _NEW_IR)
    for k, v in graph.metadata.items():
        model.metadata_props.add(key=k, value=v)
    target = graph.opset_imports.get("")
    if opset is not None and target is not None and opset != target:
        model = _convert_opset(model, graph, opset)
    return model


def _graph_proto(g: Graph, release: bool = False) -> onnx.GraphProto:
    gp = onnx.GraphProto()
    _fill_graph(gp, g, release)
    return gp


def _fill_graph(gp: onnx.GraphProto, g: Graph, release: bool = False, *,
                drop_defaults: bool = False) -> None:
    """``drop_defaults``: list only the required inputs (not initializers as inputs)."""
    errors: list[TensorbridgeError] = []
    nodes = []
    for n in g.nodes():
        try:
            nodes.append(_node_proto(g, n))
        except TensorbridgeError as e:
            errors.append(e)
    if errors:
        raise ConversionError(f"writing graph {g.name!r} as ONNX", errors)
    gp.node.extend(nodes)
    gp.name = g.name
    gp.input.extend(_value_info(v) for v in (g.required_inputs if drop_defaults else g.inputs))
    gp.output.extend(_value_info(v) for v in g.outputs)
    dense = []
    for v in g.initializers():
        if isinstance(v.const, SparseTensor):
            gp.sparse_initializer.append(_sparse_proto(v.const, v.name))
        else:
            dense.append((v, gp.initializer.add()))
    # Filled largest first (the proto keeps insertion order): each tensor passes through a
    # transient copy on its way in, and the big ones' are then taken while the proto is small.
    for v, t in sorted(dense, key=lambda vt: -_nbytes(vt[0])):
        _fill_initializer(t, v, release)  # one tensor at a time
    io = {v.name for v in g.inputs} | {v.name for v in g.outputs}
    gp.value_info.extend(_value_info(v) for v in g.values()
                         if v.type is not None and v.name not in io and v.role is Role.INTERMEDIATE)
    if g.doc:
        gp.doc_string = g.doc


def _fill_initializer(t: onnx.TensorProto, v: Value, release: bool) -> None:
    """With ``release``, the value lets go of its data once its bytes are taken and before
    the proto copies them in: a weight computed on read (folded BatchNorm, re-ordered RNN
    gates) is then freed first, and at most two copies of the tensor exist at once."""
    arr = v.const_array()
    dtype, dims, raw = arr.dtype, arr.shape, raw_data(arr)
    if raw is None:
        t.CopyFrom(from_array(arr, v.name))
    del arr
    if release:
        v.const = None
    if raw is not None:
        fill_raw(t, v.name, dtype, dims, raw)
    if v.doc:
        t.doc_string = v.doc


def _nbytes(v: Value) -> int:
    c = v.const
    return c.nbytes if isinstance(c, LazyTensor | np.ndarray) else 0


def _value_info(v: Value) -> onnx.ValueInfoProto:
    vi = onnx.ValueInfoProto(name=v.name)
    if v.type is not None:
        vi.type.CopyFrom(type_to_proto(v.type))
    if v.doc:
        vi.doc_string = v.doc
    return vi


def _node_proto(g: Graph, n: Node) -> onnx.NodeProto:
    ins = [v.name if v is not None else "" for v in g.node_inputs(n)]
    while ins and not ins[-1]:
        ins.pop()
    outs = [v.name if v is not None else "" for v in g.node_outputs(n)]
    proto = helper.make_node(n.op_type, ins, outs, name=n.name, domain=n.domain or None,
                             doc_string=n.doc or None)
    if n.overload:
        proto.overload = n.overload
    for name, a in sorted(n.attrs.items()):
        proto.attribute.append(_attr_proto(name, a, n))
    p = n.provenance
    if p.framework and p.framework != "onnx":
        for field, key in PROV_KEYS.items():
            value = getattr(p, field)
            if value:
                proto.metadata_props.add(key=key, value=value)
    return proto


def _attr_proto(name: str, a: Attr, n: Node) -> onnx.AttributeProto:
    if a.ref:
        ap = AttributeProto(name=name, ref_attr_name=a.ref, type=cast("AttributeProto.AttributeType", int(a.kind)))
        return ap
    k, v = a.kind, a.value
    if k == AttrKind.GRAPH:
        return helper.make_attribute(name, _graph_proto(v))
    if k == AttrKind.GRAPHS:
        ap = AttributeProto(name=name, type=AttributeProto.GRAPHS)
        ap.graphs.extend(_graph_proto(s) for s in v)
        return ap
    if k == AttrKind.TENSOR:
        return helper.make_attribute(name, from_array(v, ""))
    if k == AttrKind.TENSORS:
        ap = AttributeProto(name=name, type=AttributeProto.TENSORS)
        ap.tensors.extend(from_array(t, "") for t in v)
        return ap
    if k == AttrKind.SPARSE_TENSOR:
        return helper.make_attribute(name, _sparse_proto(v, ""))
    if k == AttrKind.SPARSE_TENSORS:
        ap = AttributeProto(name=name, type=AttributeProto.SPARSE_TENSORS)
        ap.sparse_tensors.extend(_sparse_proto(s, "") for s in v)
        return ap
    if k in (AttrKind.TYPE_PROTO, AttrKind.TYPE_PROTOS):
        ap = AttributeProto(name=name, type=cast("AttributeProto.AttributeType", int(k)))
        if k == AttrKind.TYPE_PROTO:
            ap.tp.CopyFrom(type_to_proto(v))
        else:
            ap.type_protos.extend(type_to_proto(t) for t in v)
        return ap
    if k in (AttrKind.STRING, AttrKind.STRINGS):
        val = _utf8(v) if k == AttrKind.STRING else [_utf8(s) for s in v]
        return helper.make_attribute(name, val, attr_type=int(k))
    return helper.make_attribute(name, list(v) if isinstance(v, tuple) else v, attr_type=int(k))


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", errors="surrogateescape")


def _sparse_proto(s: SparseTensor, name: str) -> onnx.SparseTensorProto:
    values = from_array(s.values, name)
    indices = from_array(s.indices.astype("int64", copy=False), "")
    return helper.make_sparse_tensor(values, indices, list(s.dims))


def _function_proto(f: Function) -> onnx.FunctionProto:
    body = f.body
    nodes = [_node_proto(body, n) for n in body.nodes()]
    opsets = [helper.make_opsetid(d, v) for d, v in sorted(body.opset_imports.items())]
    plain = [a for a in f.attributes if a not in f.attribute_defaults]
    fp = helper.make_function(f.domain, f.name, [v.name for v in body.inputs],
                              [v.name for v in body.outputs], nodes, opsets, plain,
                              attribute_protos=[_attr_proto(k, a, None) for k, a in  # type: ignore[arg-type]
                                                sorted(f.attribute_defaults.items())],
                              doc_string=f.doc or None)
    return fp


def _has_node_metadata(gp: onnx.GraphProto) -> bool:
    return any(len(n.metadata_props) for n in gp.node)


def _convert_opset(model: onnx.ModelProto, graph: Graph, opset: int) -> onnx.ModelProto:
    latest = schemas.latest_opset()
    if not 7 <= opset <= latest:
        raise UnsupportedOpError("onnx export", f"opset {opset}",
                                 hint=f"choose an opset between 7 and {latest}")
    try:
        return onnx.version_converter.convert_version(model, opset)
    except Exception as e:  # the converter raises bare RuntimeError naming the adapter
        ops = sorted({n.op_type for n in graph.nodes()
                      if schemas.get_schema(n.op_type, n.domain, opset) is None
                      or cast("onnx.defs.OpSchema", schemas.get_schema(n.op_type, n.domain, opset)).since_version
                      != schemas.get_schema(n.op_type, n.domain, graph.opset()).since_version})  # type: ignore[union-attr]
        raise UnsupportedOpError(
            "onnx export", ", ".join(ops) or "model",
            hint=f"cannot express the model at opset {opset} (from {graph.opset()}): {e}. "
            "Keep the model's opset or choose one the listed ops exist at") from e


__all__ = ["LazyTensor", "from_ir"]
