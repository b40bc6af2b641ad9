"""What an opset-lowering rule builds with: one op of a graph replaced by ops in the form a
target opset wants (Reduce* axes as an attribute before 18, Squeeze/Unsqueeze axes as an
attribute before 13), with the replaced op's provenance and names derived from it.

A rule builds the replacement with :class:`OpBuilder` and hands its outputs to
:meth:`OpBuilder.replace`, which rewires every use, removes the old op and gives each new
output the old output's name and type (graph outputs and names that parity reports map
through provenance stay as they were)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value
from tensorbridge.ir.types import ShapeT, TensorType


class OpBuilder:
    """Builds the replacement of ``node`` in ``graph`` at ai.onnx ``opset``;
    ``source_since`` is the since-version of the node's schema in the graph being lowered."""

    def __init__(self, graph: Graph, node: Node, opset: int, source_since: int) -> None:
        self.graph = graph
        self.node = node
        self.opset = opset
        self.source_since = source_since

    # ------------------------------------------------------------------ the node
    def inputs(self) -> list[Value | None]:
        return self.graph.node_inputs(self.node)

    def outputs(self) -> list[Value | None]:
        return self.graph.node_outputs(self.node)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.node.attr(name, default)

    @staticmethod
    def rank(v: Value | None) -> int | None:
        t = v.type if v is not None else None
        return t.rank if isinstance(t, TensorType) else None

    @staticmethod
    def static_dim(v: Value | None, axis: int) -> int | None:
        """``v``'s size along ``axis`` when the IR knows it as an int."""
        t = v.type if v is not None else None
        if not isinstance(t, TensorType) or t.shape is None or not -len(t.shape) <= axis < len(t.shape):
            return None
        d = t.shape[axis]
        return d if isinstance(d, int) else None

    # ------------------------------------------------------------------ building
    def op(self, op_type: str, inputs: Sequence[Value | None], attrs: dict[str, Any] | None = None, *,
           dtype: DType | None = None, shape: ShapeT = None, n_outputs: int = 1) -> Any:
        """Add an op; its output (a list when ``n_outputs`` > 1) gets ``dtype``/``shape``."""
        base = f"{self.node.name}_{op_type.lower()}"
        outs = self.graph.add_op(op_type, list(inputs), attrs or {}, name=base, n_outputs=n_outputs,
                                 provenance=self.node.provenance)
        if dtype is not None:
            for v in outs:
                v.type = TensorType(dtype, shape)
        return outs[0] if n_outputs == 1 else outs

    def const(self, value: Any, dtype: DType | None = None, name: str = "const") -> Value:
        arr = np.asarray(value, dtype=dtype.np_dtype if dtype is not None else None)
        return self.graph.add_constant(f"{self.node.name}_{name}", arr)

    def ints(self, values: Sequence[int], name: str = "ints") -> Value:
        return self.const(np.array([int(v) for v in values], np.int64), name=name)

    def scalar(self, value: float, dtype: DType, name: str = "scalar") -> Value:
        return self.const(np.array(value, dtype.np_dtype), name=name)

    def cast(self, x: Value, dtype: DType) -> Value:
        if x.dtype == dtype:
            return x
        return self.op("Cast", [x], {"to": int(dtype)}, dtype=dtype, shape=x.shape)

    def reduce(self, op_type: str, x: Value, axes: Sequence[int], *, keepdims: bool = True,
               dtype: DType | None = None) -> Value:
        """``op_type`` over ``axes``, axes as an input from ReduceSum-13 / the others' 18."""
        attrs: dict[str, Any] = {"keepdims": int(keepdims)}
        if self.opset >= (13 if op_type == "ReduceSum" else 18):
            return self.op(op_type, [x, self.ints(axes, "axes")], attrs, dtype=dtype or x.dtype)
        attrs["axes"] = [int(a) for a in axes]
        return self.op(op_type, [x], attrs, dtype=dtype or x.dtype)

    def unsqueeze(self, x: Value, axes: Sequence[int]) -> Value:
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.ints(axes, "axes")], dtype=x.dtype)
        return self.op("Unsqueeze", [x], {"axes": [int(a) for a in axes]}, dtype=x.dtype)

    def dim(self, x: Value, axis: int) -> Value:
        """Size of ``x`` along ``axis`` as a (1,) int64 tensor (works for symbolic dims)."""
        shape = self.op("Shape", [x], dtype=DType.INT64)
        return self.op("Gather", [shape, self.ints([axis], "axis")], {"axis": 0}, dtype=DType.INT64, shape=(1,))

    # ------------------------------------------------------------------ finishing
    def replace(self, new_outputs: Sequence[Value | None]) -> None:
        """Make ``new_outputs[i]`` take the place of the node's output ``i`` (name, type and
        every use, graph outputs included), then remove the node."""
        g = self.graph
        pairs = []
        for old, new in zip(self.outputs(), new_outputs):
            if old is None or (new is None and not g.is_used(old) and old not in g.outputs):
                continue
            if new is None:
                raise ValueError(f"lowering {self.node.op_type} {self.node.name!r}: output "
                                 f"{old.name!r} is used but the rule built no replacement")
            pairs.append((old, new))
        for old, new in pairs:
            if old.type is not None:
                new.type = old.type
            g.replace_all_uses(old, new)
        names = [old.name for old, _ in pairs]
        g.remove(self.node)
        for name, (_, new) in zip(names, pairs):
            if g.producer(new) is not None:  # never rename a graph input or a weight
                g.rename(new, name)
