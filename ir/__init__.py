"""tensorbridge's common graph IR (numpy + networkx + onnx.defs only)."""

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import (
    ConversionError,
    KernelError,
    ModelLoadError,
    TensorbridgeError,
    UnsupportedOpError,
    VerificationError,
)
from tensorbridge.ir.graph import Function, Graph, ModelInfo, NameAuthority, WeightInfo
from tensorbridge.ir.node import Attr, AttrKind, LazyTensor, Node, Provenance, Role, Value
from tensorbridge.ir.printer import format_graph
from tensorbridge.ir.types import (
    Dim,
    MapType,
    OptionalType,
    SequenceType,
    SparseTensorType,
    TensorType,
    ValueType,
)
from tensorbridge.ir.values import SparseTensor
from tensorbridge.ir.verify import verify

__all__ = [
    "Attr", "AttrKind", "ConversionError", "DType", "Dim", "Function", "Graph", "KernelError",
    "LazyTensor", "MapType", "ModelInfo", "ModelLoadError", "NameAuthority", "Node",
    "OptionalType", "Provenance", "Role", "SequenceType", "SparseTensor", "SparseTensorType",
    "TensorType", "TensorbridgeError", "UnsupportedOpError", "Value", "ValueType",
    "VerificationError", "WeightInfo", "format_graph", "verify",
]
