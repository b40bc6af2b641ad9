"""Conversions between onnx protobuf pieces and IR pieces, shared by both directions."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from ir.dtypes import DType
from ir.errors import ModelLoadError
from ir.types import MapType, OptionalType, SequenceType, SparseTensorType, TensorType, ValueType

# Provenance fields <-> NodeProto.metadata_props keys
PROV_KEYS = {
    "framework": "tensorbridge.framework",
    "module": "tensorbridge.module",
    "source_op": "tensorbridge.source_op",
    "location": "tensorbridge.location",
}


def to_array(t: TensorProto, origin: str) -> np.ndarray:
    """A dense TensorProto as numpy; string tensors become object arrays of ``str``.

    Tensors stored as little-endian raw bytes of a byte-aligned type become a read-only
    array over those bytes (no second copy); kernels never write into their inputs."""
    fast = _raw_view(t)
    if fast is not None:
        return fast
    try:
        arr = numpy_helper.to_array(t)
    except Exception as e:  # onnx raises bare ValueError/TypeError/KeyError on bad tensors
        raise ModelLoadError(origin, f"tensor {t.name!r} cannot be decoded ({type(e).__name__}: {e})",
                             "The tensor's data does not match its dims/data_type; re-export it") from e
    if t.data_type == TensorProto.STRING:
        flat = [x.decode("utf-8", errors="surrogateescape") if isinstance(x, bytes) else x
                for x in arr.reshape(-1)]
        arr = np.array(flat, dtype=object).reshape(arr.shape)
    return arr


_RAW_OK = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.INT32,
           TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16,
           TensorProto.FLOAT16, TensorProto.BOOL, TensorProto.UINT32, TensorProto.UINT64}


def _raw_view(t: TensorProto) -> np.ndarray | None:
    if t.data_type not in _RAW_OK or not t.HasField("raw_data") or sys.byteorder != "little":
        return None
    dtype = DType(t.data_type).np_dtype
    dims = tuple(int(d) for d in t.dims)
    raw = t.raw_data
    if len(raw) != int(np.prod(dims, dtype=np.int64)) * dtype.itemsize:
        return None  # let numpy_helper produce its own error message
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


def raw_data(arr: np.ndarray) -> bytes | None:
    """``arr`` as a TensorProto's raw_data (little-endian, C order): one copy, made straight
    from ``arr`` even when it is a strided view. None for types stored otherwise (strings,
    sub-byte and non-numpy types), which go through :func:`from_array`."""
    if arr.dtype.kind in "biufc" and arr.dtype.itemsize * 8 == DType.from_numpy(arr.dtype).itemsize_bits \
            and sys.byteorder == "little":
        return arr.tobytes()
    return None


def fill_raw(t: TensorProto, name: str, dtype: np.dtype, dims: tuple[int, ...], raw: bytes) -> None:
    """Fill ``t`` in place from :func:`raw_data` (no intermediate TensorProto to copy)."""
    t.name = name
    t.data_type = int(DType.from_numpy(dtype))
    t.dims.extend(dims)
    t.raw_data = raw


def from_array(arr: np.ndarray, name: str) -> TensorProto:
    if arr.dtype == object or arr.dtype.kind in "US":
        flat: list[Any] = [x.encode("utf-8", errors="surrogateescape") if isinstance(x, str) else bytes(x)
                for x in arr.reshape(-1)]
        t = onnx.helper.make_tensor(name, TensorProto.STRING, arr.shape, flat)
        return t
    return numpy_helper.from_array(np.asarray(arr), name)


def _dims(shape: onnx.TensorShapeProto) -> tuple[int | str | None, ...]:
    out: list[int | str | None] = []
    for d in shape.dim:
        which = d.WhichOneof("value")
        out.append(int(d.dim_value) if which == "dim_value" else d.dim_param if which == "dim_param" else None)
    return tuple(out)


def type_from_proto(tp: onnx.TypeProto) -> ValueType | None:
    which = tp.WhichOneof("value")
    if which == "tensor_type":
        tt = tp.tensor_type
        if tt.elem_type == 0:  # UNDEFINED: nothing known
            return None
        return TensorType(DType(tt.elem_type), _dims(tt.shape) if tt.HasField("shape") else None)
    if which == "sparse_tensor_type":
        st = tp.sparse_tensor_type
        return SparseTensorType(DType(st.elem_type), _dims(st.shape) if st.HasField("shape") else None)
    if which == "sequence_type":
        return SequenceType(type_from_proto(tp.sequence_type.elem_type))
    if which == "optional_type":
        return OptionalType(type_from_proto(tp.optional_type.elem_type))
    if which == "map_type":
        return MapType(DType(tp.map_type.key_type), type_from_proto(tp.map_type.value_type))
    return None


def type_to_proto(t: ValueType | None) -> onnx.TypeProto:
    tp = onnx.TypeProto()
    if t is None:
        return tp
    if isinstance(t, TensorType | SparseTensorType):
        target = tp.tensor_type if isinstance(t, TensorType) else tp.sparse_tensor_type
        target.elem_type = int(t.dtype)
        if t.shape is not None:
            target.shape.SetInParent()
            for d in t.shape:
                dim = target.shape.dim.add()
                if isinstance(d, int):
                    dim.dim_value = d
                elif isinstance(d, str):
                    dim.dim_param = d
    elif isinstance(t, SequenceType):
        tp.sequence_type.SetInParent()
        if t.elem is not None:
            tp.sequence_type.elem_type.CopyFrom(type_to_proto(t.elem))
    elif isinstance(t, OptionalType):
        tp.optional_type.SetInParent()
        if t.elem is not None:
            tp.optional_type.elem_type.CopyFrom(type_to_proto(t.elem))
    elif isinstance(t, MapType):
        tp.map_type.key_type = int(t.key)
        if t.value is not None:
            tp.map_type.value_type.CopyFrom(type_to_proto(t.value))
    return tp
