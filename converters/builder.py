"""The framework-independent half of a translation context: emitting IR ops with the
current provenance, constants, casts, and the opset-aware forms of version-sensitive ops.
Each front-end's context subclasses it with what it knows about its own source nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Provenance, Value
from tensorbridge.ir.types import TensorType


def check_opset(framework: str, opset: int | None, default: int, minimum: int) -> int:
    """The ai.onnx opset to build at: ``default`` when not given; refuses one outside
    ``minimum``..newest the onnx package knows."""
    from tensorbridge.ir import schemas

    latest = schemas.latest_opset()
    if opset is None:
        return default
    if not minimum <= opset <= latest:
        raise UnsupportedOpError(framework, f"opset {opset}",
                                 hint=f"tensorbridge exports {framework} models at opsets {minimum}..{latest}")
    return opset


class TranslationError(UnsupportedOpError):
    """A supported op used with arguments the translation cannot express."""


class GraphBuilder:
    """Emits IR for one source node at a time (``name_base`` and ``provenance`` are set by
    the front-end's driver before each translation)."""

    framework = ""

    def __init__(self, graph: Graph, opset: int) -> None:
        self.graph = graph
        self.opset = opset
        self.name_base = ""
        self.provenance = Provenance(self.framework)
        self._consts: dict[tuple[Any, ...], Value] = {}

    @property
    def where(self) -> str:
        return self.name_base

    def default_dtype(self) -> DType:
        """dtype for Python scalars given without one (a front-end knows its node's)."""
        return DType.FLOAT

    # ------------------------------------------------------------------ emitting
    def op(self, op_type: str, inputs: Sequence[Value | None], attrs: dict[str, Any] | None = None,
           *, n_outputs: int = 1, domain: str = "", dtype: DType | None = None) -> Any:
        """Add an op with the current node's provenance; one Value, or a list if n_outputs > 1.
        ``dtype`` records the (first) output's element type for later type queries."""
        base = self.name_base or op_type.lower()
        if domain and domain not in self.graph.opset_imports:  # a custom op's domain (tb.register_schema)
            from tensorbridge.ir import schemas

            self.graph.opset_imports[domain] = schemas.latest_opset(domain)
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

    def floor_div(self, a: Value, b: Value, dtype: DType) -> Value:
        """floor(a / b) in ``dtype`` (Python's and TF's ``//``; ONNX Div truncates integers).
        Integers: the truncated quotient, one less where the remainder is non-zero and its
        sign differs from b's. (``(a - a mod b) / b`` overflows at the type's ends:
        -128 // 3 in int8 would give 42.)"""
        if dtype.is_float:
            return self.op("Floor", [self.op("Div", [a, b])])
        q = self.op("Div", [a, b])
        r = self.op("Sub", [a, self.op("Mul", [q, b])])  # |r| < |b|: no overflow
        zero = self.const(0, dtype)
        step = self.op("And", [self.op("Not", [self.op("Equal", [r, zero])]),
                               self.op("Xor", [self.op("Less", [r, zero]), self.op("Less", [b, zero])])])
        return self.op("Sub", [q, self.op("Cast", [step], {"to": int(dtype)})], dtype=dtype)

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
        return self.const(x, dtype or self.default_dtype())

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
            raise TranslationError(self.framework, "dtype query", node=self.where,
                                   hint=f"internal: value {v.name!r} has no known dtype")
        return d

    def rank(self, v: Value) -> int:
        s = v.shape
        if s is None:
            raise TranslationError(self.framework, "rank query", node=self.where,
                                   hint=f"internal: value {v.name!r} has no known rank")
        return len(s)
