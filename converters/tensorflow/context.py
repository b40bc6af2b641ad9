"""What a TF translation works with: the graph being built, the NodeDef being translated
with its attributes decoded (``T``, ``data_format``, ``padding``, ``strides`` ...), the
dtypes and static shapes TensorFlow inferred for its outputs, and layout helpers for the
NHWC ops that ONNX only has in NCHW form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.builder import GraphBuilder, TranslationError
from tensorbridge.converters.tensorflow.control import FunctionLibrary, LoopFrame
from tensorbridge.converters.tensorflow.dtypes import to_dtype
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Provenance, Value
from tensorbridge.ir.types import TensorType

__all__ = ["TfCtx", "TranslationError", "decode_attr", "to_dtype"]

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def decode_attr(value: Any) -> Any:
    """A NodeDef AttrValue as a plain Python value: str, int, float, bool, DType (None for
    TF-only types such as resource), shape tuple (None dims; None for unknown rank),
    numpy array, function name, or a tuple of those."""
    field = value.WhichOneof("value")
    if field == "list":
        lst = value.list
        for name in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = getattr(lst, name)
            if len(items):
                return tuple(_decode_scalar(name, x) for x in items)
        return ()
    if field is None:
        return None
    return _decode_scalar(field, getattr(value, field))


def _decode_scalar(field: str, x: Any) -> Any:
    if field == "s":
        return x.decode("utf-8", errors="replace")
    if field in ("i", "f", "b"):
        return {"i": int, "f": float, "b": bool}[field](x)
    if field == "type":
        try:
            return to_dtype(x)
        except UnsupportedOpError:
            return None
    if field == "shape":
        if x.unknown_rank:
            return None
        return tuple(None if d.size < 0 else int(d.size) for d in x.dim)
    if field == "tensor":
        return tf.make_ndarray(x)
    if field == "func":
        return x.name
    return x


class TfCtx(GraphBuilder):
    """Builder handle given to every TF translation (``ctx`` first parameter)."""

    framework = "tensorflow"

    def __init__(self, graph: Graph, opset: int, tf_graph: tf.Graph, graph_def: Any = None) -> None:
        super().__init__(graph, opset)
        self.tf_graph = tf_graph
        self.graph_def = graph_def
        self.node: Any = None  # the NodeDef being translated
        self.attrs: dict[str, Any] = {}
        self.tensor_names: dict[int, str] = {}  # id(Value) -> the TF tensor it stands for
        self._tf_op: tf.Operation | None = None
        self._session: Any = None
        self._relaid: dict[tuple[int, str, tuple[int, ...]], Value] = {}  # weights re-laid out once
        # id(re-laid copy) -> (copy, the weight it came from, "T" perm / "R" shape); the
        # driver turns copies back into ops when a weight is also read in another layout.
        # Shared with the contexts of While/If bodies (set by the driver).
        self.derived: dict[int, tuple[Value, Value, str, tuple[int, ...]]] = {}
        # a migration keeps every variable in the shape the source holds it: its other
        # layouts are Transpose/Reshape ops (set by the driver, as torch's keep_weight_layout)
        self.keep_weight_layout = False
        self._placeholder_free: dict[str, bool] = {}
        self.functions: FunctionLibrary | None = None  # While/If bodies (set by the driver)
        self.loop: LoopFrame | None = None  # set while translating a While body

    def set_node(self, node: Any, provenance: Provenance) -> None:
        self.node = node
        self.name_base = node.name if node is not None else ""
        self.provenance = provenance
        self.attrs = {k: decode_attr(v) for k, v in node.attr.items()} if node is not None else {}
        self._tf_op = None

    @property
    def op_type(self) -> str:
        return self.node.op if self.node is not None else "?"

    @property
    def tf_op(self) -> tf.Operation:
        if self._tf_op is None:
            self._tf_op = self.tf_graph.get_operation_by_name(self.node.name)
        return self._tf_op

    # ------------------------------------------------------------------ facts
    def n_outputs(self) -> int:
        return len(self.tf_op.outputs)

    def out_dtype(self, i: int = 0) -> DType:
        return to_dtype(self.tf_op.outputs[i].dtype)

    def out_shape(self, i: int = 0) -> tuple[int | None, ...] | None:
        """TF's static shape of output ``i`` (None dims unknown; None for unknown rank)."""
        shape = self.tf_op.outputs[i].shape
        return None if shape.rank is None else tuple(shape.as_list())

    def default_dtype(self) -> DType:
        return self.out_dtype() if self.node is not None and self.n_outputs() else DType.FLOAT

    def fail(self, what: str) -> TranslationError:
        """An error for an argument combination this translation cannot express."""
        where = f"layer {self.provenance.module}" if self.provenance.module else ""
        return TranslationError("tensorflow", self.op_type, node=self.where, source=where,
                                hint=f"{what}; rewrite the model code or open an issue")

    @staticmethod
    def const_value(v: Value | None) -> np.ndarray | None:
        """The data of a constant input, or None when the input is computed at run time."""
        return v.const_array() if v is not None and v.is_const else None

    def static_value(self, v: Value | None) -> np.ndarray | None:
        """The value of an input when it is known before run time: a constant, or a TF
        expression of constants and static shapes (e.g. a permutation built with tf.range
        and tf.concat). None when it depends on the inputs' values or dynamic dims."""
        if v is None or v.is_const:
            return self.const_value(v)
        name = self.tensor_names.get(id(v))
        if name is None:
            return None
        t = self.tf_graph.get_tensor_by_name(name)
        from tensorflow.python.framework import tensor_util

        value = tensor_util.constant_value(t)
        if value is None and self._free_of_placeholders(t.op):
            value = self._run(t)
        return None if value is None else np.asarray(value)

    def _free_of_placeholders(self, op: tf.Operation) -> bool:
        known = self._placeholder_free
        stack = [op]
        while stack:
            cur = stack[-1]
            if cur.name in known:
                stack.pop()
                continue
            pending = [i.op for i in cur.inputs if i.op.name not in known]
            if pending:
                stack.extend(pending)
                continue
            known[cur.name] = cur.type not in ("Placeholder", "PlaceholderWithDefault") and all(
                known[i.op.name] for i in cur.inputs) and not cur.op_def.is_stateful
            stack.pop()
        return known[op.name]

    def _run(self, t: tf.Tensor) -> np.ndarray | None:
        """Evaluate a placeholder-free tensor with TF (in a graph imported from the frozen
        GraphDef: the traced graph may still read variables)."""
        if self.graph_def is None:
            return None
        if self._session is None:
            from tensorbridge.converters.tensorflow.capture import import_graph

            self._session = tf.compat.v1.Session(graph=import_graph(self.graph_def))
        try:
            return np.asarray(self._session.run(t.name))
        except (tf.errors.OpError, KeyError, ValueError):
            return None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def static_ints(self, v: Value, what: str) -> list[int]:
        """A constant int input (axis, perm, paddings ...) as Python ints, or a clear failure."""
        arr = self.static_value(v)
        if arr is None:
            raise self.fail(f"{what} must be a constant (it is computed at run time)")
        return [int(a) for a in np.asarray(arr).reshape(-1)]

    def static_int(self, v: Value, what: str) -> int:
        vals = self.static_ints(v, what)
        if len(vals) != 1:
            raise self.fail(f"{what} must be a single int, got {vals}")
        return vals[0]

    def static_dims(self, v: Value, what: str) -> list[int]:
        shape = v.shape
        if shape is None or not all(isinstance(d, int) for d in shape):
            raise self.fail(f"{what} needs a static shape, got {shape}")
        return [int(d) for d in shape]

    def ints(self, xs: Sequence[Any] | Value) -> Value:
        """A 1-D (or same-rank) int64 tensor; constant inputs are converted here, not cast at
        run time."""
        arr = self.static_value(xs) if isinstance(xs, Value) else None
        if arr is not None:
            return self.const(np.asarray(arr, np.int64))
        return super().ints(xs)

    def typed(self, v: Value, dtype: DType, shape: Sequence[Any] | None = None) -> Value:
        """Record ``v``'s type (for later rank/dtype queries inside a translation)."""
        v.type = TensorType(dtype, None if shape is None else tuple(shape))
        return v

    # ------------------------------------------------------------------ layout
    def to_channels_first(self, x: Value) -> Value:
        """NHWC (N, spatial..., C) -> NCHW (N, C, spatial...)."""
        r = self.rank(x)
        y = self.op("Transpose", [x], {"perm": [0, r - 1, *range(1, r - 1)]})
        return self._permuted_type(y, x, [0, r - 1, *range(1, r - 1)])

    def to_channels_last(self, y: Value, rank: int) -> Value:
        """NCHW (N, C, spatial...) -> NHWC (N, spatial..., C)."""
        perm = [0, *range(2, rank), 1]
        out = self.op("Transpose", [y], {"perm": perm})
        return self._permuted_type(out, y, perm)

    def _permuted_type(self, out: Value, src: Value, perm: list[int]) -> Value:
        if src.dtype is not None and src.shape is not None:
            self.typed(out, src.dtype, [src.shape[p] for p in perm])
        elif src.dtype is not None:
            self.typed(out, src.dtype, [None] * len(perm))
        return out

    def permuted_weight(self, w: Value, perm: Sequence[int]) -> Value:
        """``w`` transposed by ``perm``: a new initializer when ``w`` is constant (keeping its
        Keras weight name and role), a Transpose op otherwise (and for a variable when
        ``keep_weight_layout``)."""
        arr = self.const_value(w)
        if arr is None or (self.keep_weight_layout and w.source_name):
            return self.op("Transpose", [w], {"perm": list(perm)})
        key = (id(w), "T", tuple(perm))  # a shared Keras layer reads its kernel at every call
        if key not in self._relaid:
            data = np.ascontiguousarray(np.transpose(arr, perm))
            self._relaid[key] = self._derive(w, data, "T", tuple(perm))
        return self._relaid[key]

    def reshaped_weight(self, w: Value, shape: Sequence[int]) -> Value:
        """``w`` reshaped to the static ``shape`` (a new initializer when constant, unless it
        is a variable and ``keep_weight_layout``)."""
        arr = self.const_value(w)
        if arr is None or (self.keep_weight_layout and w.source_name):
            return self.op("Reshape", [w, self.const(np.array(list(shape), np.int64))])
        key = (id(w), "R", tuple(shape))
        if key not in self._relaid:
            self._relaid[key] = self._derive(w, arr.reshape(shape), "R", tuple(shape))
        return self._relaid[key]

    def _derive(self, w: Value, data: np.ndarray, how: str, arg: tuple[int, ...]) -> Value:
        """A re-laid-out copy of weight ``w`` (same Keras name and role), remembered so it
        can be computed from ``w`` instead if ``w`` turns out to be read in several layouts."""
        copy = self.graph.add_constant(w.source_name or w.name, data, role=w.role, source_name=w.source_name)
        if w.source_name:
            self.derived[id(copy)] = (copy, w, how, tuple(int(a) for a in arg))
        return copy
