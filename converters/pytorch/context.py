"""What a translation function works with: the graph being built, the FX node being
translated (for provenance and its output's dtype/shape), and helpers that emit the right
ONNX form for the target opset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ir.dtypes import DType
from ir.errors import UnsupportedOpError
from ir.graph import Graph
from ir.node import Provenance, Value
from ir.types import TensorType

TORCH_TO_DTYPE: dict[torch.dtype, DType] = {
    torch.float32: DType.FLOAT, torch.float64: DType.DOUBLE, torch.float16: DType.FLOAT16,
    torch.bfloat16: DType.BFLOAT16, torch.int64: DType.INT64, torch.int32: DType.INT32,
    torch.int16: DType.INT16, torch.int8: DType.INT8, torch.uint8: DType.UINT8, torch.bool: DType.BOOL,
    torch.complex64: DType.COMPLEX64, torch.complex128: DType.COMPLEX128,
    torch.uint16: DType.UINT16, torch.uint32: DType.UINT32, torch.uint64: DType.UINT64,
    torch.float8_e4m3fn: DType.FLOAT8E4M3FN, torch.float8_e5m2: DType.FLOAT8E5M2,
}


def to_dtype(dt: torch.dtype) -> DType:
    try:
        return TORCH_TO_DTYPE[dt]
    except KeyError:
        raise UnsupportedOpError("pytorch", f"dtype {dt}", hint="this dtype has no ONNX equivalent") from None


class TranslationError(UnsupportedOpError):
    """A supported op used with arguments the translation cannot express."""


class Ctx:
    """Builder handle given to every translation (``ctx`` first parameter)."""

    def __init__(self, graph: Graph, opset: int, dim_names: dict[str, str]) -> None:
        self.graph = graph
        self.opset = opset
        self.dim_names = dim_names
        self.node: torch.fx.Node | None = None
        self.provenance = Provenance("pytorch")
        self._consts: dict[tuple[Any, ...], Value] = {}

    # ------------------------------------------------------------------ emitting
    def op(self, op_type: str, inputs: Sequence[Value | None], attrs: dict[str, Any] | None = None,
           *, n_outputs: int = 1, domain: str = "", dtype: DType | None = None) -> Any:
        """Add an op with the current node's provenance; one Value, or a list if n_outputs > 1.
        ``dtype`` records the (first) output's element type for later type queries."""
        base = self.node.name if self.node is not None else op_type.lower()
        outs = self.graph.add_op(op_type, list(inputs), attrs or {}, domain=domain,
                                 n_outputs=n_outputs, name=f"{base}_{op_type}",
                                 provenance=self.provenance,
                                 outputs=[f"{base}_{op_type.lower()}" + (f"_{i}" if n_outputs > 1 else "")
                                          for i in range(n_outputs)])
        if dtype is not None:
            outs[0].type = TensorType(dtype, None)
        return outs[0] if n_outputs == 1 else outs

    def const(self, value: Any, dtype: DType | None = None) -> Value:
        """A constant initializer (small equal constants are shared)."""
        arr = np.asarray(value, dtype=dtype.np_dtype if dtype is not None else None)
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(np.float32)
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.size <= 64 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        v = self.graph.add_constant("const", arr)
        if key is not None:
            self._consts[key] = v
        return v

    def cast(self, v: Value, dtype: DType) -> Value:
        if v.dtype == dtype:
            return v
        out = self.op("Cast", [v], {"to": int(dtype)})
        out.type = TensorType(dtype, v.shape)
        return out

    def tensor(self, x: Any, dtype: DType | None = None) -> Value:
        """``x`` as a Value: an IR value (cast to ``dtype`` if given) or a Python scalar/list
        made constant with ``dtype`` (default: the current node's output dtype)."""
        if isinstance(x, Value):
            return self.cast(x, dtype) if dtype is not None else x
        if isinstance(x, list | tuple) and any(isinstance(e, Value) for e in x):
            return self.ints(x)
        return self.const(x, dtype or self.out_dtype())

    def ints(self, xs: Sequence[Any] | Value) -> Value:
        """A 1-D int64 tensor from ints and 0-d int Values (SymInts)."""
        if isinstance(xs, Value):
            return self.cast(xs, DType.INT64)
        if all(not isinstance(x, Value) for x in xs):
            return self.const(np.array([int(x) for x in xs], np.int64))
        parts = [self.unsqueeze(self.cast(x, DType.INT64), [0]) if isinstance(x, Value)
                 else self.const(np.array([int(x)], np.int64)) for x in xs]
        return parts[0] if len(parts) == 1 else self.op("Concat", parts, {"axis": 0})

    def unsqueeze(self, x: Value, axes: Sequence[int]) -> Value:
        return self.op("Unsqueeze", [x, self.const(np.array(list(axes), np.int64))])

    def squeeze(self, x: Value, axes: Sequence[int] | None = None) -> Value:
        ins = [x] if axes is None else [x, self.const(np.array(list(axes), np.int64))]
        return self.op("Squeeze", ins)

    def reduce(self, op_type: str, x: Value, axes: Sequence[int] | None, keepdims: bool) -> Value:
        """Reduce* in the form the opset wants: axes as input (ReduceSum 13+, others 18+)."""
        attrs: dict[str, Any] = {"keepdims": int(keepdims)}
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if axes is None or len(axes) == 0:
            return self.op(op_type, [x], attrs)
        if as_input:
            return self.op(op_type, [x, self.const(np.array(list(axes), np.int64))], attrs)
        attrs["axes"] = list(axes)
        return self.op(op_type, [x], attrs)

    def shape_of(self, x: Value) -> Value:
        return self.op("Shape", [x])

    # ------------------------------------------------------------------ facts
    def dtype(self, v: Value) -> DType:
        d = v.dtype
        if d is None:
            raise TranslationError("pytorch", "dtype query", node=self.where,
                                   hint=f"internal: value {v.name!r} has no known dtype")
        return d

    def rank(self, v: Value) -> int:
        s = v.shape
        if s is None:
            raise TranslationError("pytorch", "rank query", node=self.where,
                                   hint=f"internal: value {v.name!r} has no known rank")
        return len(s)

    def meta(self, i: int = 0) -> Any:
        val = self.node.meta.get("val") if self.node is not None else None
        if isinstance(val, list | tuple):
            return val[i]
        return val

    def out_dtype(self, i: int = 0) -> DType:
        val = self.meta(i)
        return to_dtype(val.dtype) if isinstance(val, torch.Tensor) else DType.INT64

    def out_rank(self, i: int = 0) -> int:
        return len(self.meta(i).shape)

    @property
    def where(self) -> str:
        return self.node.name if self.node is not None else ""

    def fail(self, what: str) -> TranslationError:
        """An error for an argument combination this translation cannot express."""
        target = str(self.node.target) if self.node is not None else "?"
        return TranslationError("pytorch", target, node=self.where, source=self.provenance.location,
                                hint=f"{what}; rewrite the model code or open an issue")
