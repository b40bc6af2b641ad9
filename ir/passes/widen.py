"""Turn a float32 graph into its float64 twin (types, initializers, constant attributes,
Cast targets), so that running both measures the float32 rounding noise of the model:
the parity checker calibrates its tolerance on that noise floor. Operates in place; call
it on a copy."""

from __future__ import annotations

import numpy as np

from ir.dtypes import DType
from ir.graph import Graph
from ir.node import Attr, AttrKind, LazyTensor
from ir.passes.base import PassReport
from ir.types import TensorType

_DTYPE_ATTRS = ("to", "dtype", "output_datatype")


def widen_float32(graph: Graph) -> PassReport:
    report = PassReport("widen_float32")
    for v in graph.values():
        if isinstance(v.type, TensorType) and v.type.dtype == DType.FLOAT:
            v.type = TensorType(DType.DOUBLE, v.type.shape)
            if v.const is not None:
                data = v.const.load() if isinstance(v.const, LazyTensor) else v.const
                if isinstance(data, np.ndarray):
                    v.const = data.astype(np.float64)
            report.changed += 1
    for node in graph.nodes():
        for name, a in list(node.attrs.items()):
            if name in _DTYPE_ATTRS and a.kind == AttrKind.INT and a.value == int(DType.FLOAT):
                node.attrs[name] = Attr(AttrKind.INT, int(DType.DOUBLE))
            elif a.kind == AttrKind.TENSOR and a.value.dtype == np.float32:
                node.attrs[name] = Attr(AttrKind.TENSOR, a.value.astype(np.float64))
        for sub in node.subgraphs():
            report.changed += widen_float32(sub).changed
    return report
