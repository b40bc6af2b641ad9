"""tensorbridge's common graph IR (numpy + networkx + onnx.defs only)."""

from ir.dtypes import DType
from ir.errors import (
    ConversionError,
    KernelError,
    ModelLoadError,
    TensorbridgeError,
    UnsupportedOpError,
    VerificationError,
)
from ir.graph import Function, Graph, ModelInfo, NameAuthority, WeightInfo
from ir.node import Attr, AttrKind, LazyTensor, Node, Provenance, Role, Value
from ir.printer import format_graph
from ir.types import (
    Dim,
    MapType,
    OptionalType,
    SequenceType,
    SparseTensorType,
    TensorType,
    ValueType,
)
from ir.values import SparseTensor
from ir.verify import verify

__all__ = [
    "Attr", "AttrKind", "ConversionError", "DType", "Dim", "Function", "Graph", "KernelError",
    "LazyTensor", "MapType", "ModelInfo", "ModelLoadError", "NameAuthority", "Node",
    "OptionalType", "Provenance", "Role", "SequenceType", "SparseTensor", "SparseTensorType",
    "TensorType", "TensorbridgeError", "UnsupportedOpError", "Value", "ValueType",
    "VerificationError", "WeightInfo", "format_graph", "verify",
]
