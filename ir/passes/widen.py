"""Turn a float32 graph into its float64 twin (types, initializers, constant attributes,
Cast targets), so that running both measures the float32 rounding noise of the model:
the parity checker calibrates its tolerance on that noise floor. Operates in place; call
it on a copy. The twin is for running only: ops whose schemas take float32 alone (Resize
scales, LayerNormalization statistics) do not verify with float64 there."""

from __future__ import annotations

import numpy as np
import onnx.defs

from tensorbridge.ir import schemas
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Attr, AttrKind, LazyTensor, Node, Value
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.types import TensorType

_DTYPE_ATTRS = ("to", "dtype", "output_datatype")
# ops whose output type is an attribute that defaults to float32: set it, or the twin
# would still compute float32 there while declaring float64
_FLOAT_BY_DEFAULT = {
    "HannWindow": "output_datatype", "HammingWindow": "output_datatype",
    "BlackmanWindow": "output_datatype", "MelWeightMatrix": "output_datatype",
    "RandomNormal": "dtype", "RandomUniform": "dtype", "LayerNormalization": "stash_type",
}


def widen_float32(graph: Graph) -> PassReport:
    report = PassReport("widen_float32")
    fixed = _fixed_float_outputs(graph)
    for v in graph.values():
        if isinstance(v.type, TensorType) and v.type.dtype == DType.FLOAT and v not in fixed:
            v.type = TensorType(DType.DOUBLE, v.type.shape)
            if v.const is not None:
                data = v.const.load() if isinstance(v.const, LazyTensor) else v.const
                if isinstance(data, np.ndarray):
                    v.const = data.astype(np.float64)
            report.changed += 1
    for node in graph.nodes():
        default = _FLOAT_BY_DEFAULT.get(node.op_type) if not node.domain else None
        if default is not None and default not in node.attrs:
            node.attrs[default] = Attr(AttrKind.INT, int(DType.FLOAT))  # widened just below
        for name, a in list(node.attrs.items()):
            if name in (*_DTYPE_ATTRS, "stash_type") and a.kind == AttrKind.INT and a.value == int(DType.FLOAT):
                node.attrs[name] = Attr(AttrKind.INT, int(DType.DOUBLE))
            elif a.kind == AttrKind.TENSOR and a.value.dtype == np.float32:
                node.attrs[name] = Attr(AttrKind.TENSOR, a.value.astype(np.float64))
        for sub in node.subgraphs():
            report.changed += widen_float32(sub).changed
    return report


def _fixed_float_outputs(graph: Graph) -> set[Value]:
    """Outputs that the op's schema makes float32 whatever the inputs (DynamicQuantizeLinear's
    y_scale, TfIdfVectorizer's Y): they stay float32 in the twin too."""
    fixed: set[Value] = set()
    for node in graph.nodes():
        for v, formal in zip(graph.node_outputs(node), _output_types(graph, node)):
            if v is not None and formal == {"tensor(float)"}:
                fixed.add(v)
    return fixed


def _output_types(graph: Graph, node: Node) -> list[set[str]]:
    schema = schemas.get_schema(node.op_type, node.domain, graph.opset(node.domain))
    if schema is None:
        return []
    allowed = {t.type_param_str: set(t.allowed_type_strs) for t in schema.type_constraints}
    out = [allowed.get(o.type_str, {o.type_str}) for o in schema.outputs]
    if out and schema.outputs[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic:
        out += [out[-1]] * max(0, node.n_outputs - len(out))
    return out
