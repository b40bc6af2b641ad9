"""Conversions between onnx protobuf pieces and IR pieces, shared by both directions.

Every field read from a file is checked here before use: element type codes, dims (range,
overflow of their product, agreement with the stored data) and value types. A problem is a
:class:`ModelLoadError` naming the tensor and what to do.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import ModelLoadError
from tensorbridge.ir.types import (
    MapType,
    OptionalType,
    SequenceType,
    SparseTensorType,
    TensorType,
    ValueType,
)

INT64_MAX = 2**63 - 1
# No stored tensor is larger than this: a bigger claim is a broken or hostile file, refused
# before any buffer is sized from it.
MAX_TENSOR_BYTES = 2**40
_NAME_SHOWN = 60  # characters of a name quoted in an error (hostile names can be megabytes)

# Provenance fields <-> NodeProto.metadata_props keys
PROV_KEYS = {
    "framework": "tensorbridge.framework",
    "module": "tensorbridge.module",
    "source_op": "tensorbridge.source_op",
    "location": "tensorbridge.location",
}


def show(name: str) -> str:
    """``name`` quoted for an error message, shortened when it is long."""
    if len(name) > _NAME_SHOWN:
        name = name[: _NAME_SHOWN - 3] + "..."
    return repr(name)


def element_type(code: int, what: str, origin: str) -> DType:
    """``code`` as a DType; 0 (UNDEFINED) and codes this version does not know are refused."""
    try:
        dtype = DType(code)
    except ValueError:
        dtype = DType.UNDEFINED
    if dtype == DType.UNDEFINED:
        why = "UNDEFINED (0)" if code == 0 else f"{code}, which is not an ONNX element type"
        raise ModelLoadError(origin, f"{what} has element type {why}",
                             f"Set a defined data type (1..{max(DType)}); re-export the model")
    return dtype


def checked_dims(dims: Sequence[int], what: str, origin: str) -> tuple[int, ...]:
    """Stored dims: each >= 0, and their product (zeros aside) within int64."""
    out = tuple(int(d) for d in dims)
    for k, d in enumerate(out):
        if d < 0:
            raise ModelLoadError(origin, f"{what} has dim {k} = {d} in dims {_fmt(out)}",
                                 "Stored tensors need dims >= 0; the file is broken, re-export it")
    if math.prod(d for d in out if d) > INT64_MAX:
        raise ModelLoadError(origin, f"{what} has dims {_fmt(out)} whose element count overflows "
                             "int64", "The dims are corrupt; re-export the model")
    return out


def storage_bytes(dtype: DType, count: int) -> int:
    """Bytes that ``count`` elements of ``dtype`` take as raw data (sub-byte types packed)."""
    return (count * dtype.itemsize_bits + 7) // 8


def _fmt(dims: Sequence[int]) -> str:
    shown = ", ".join(str(d) for d in dims[:8])
    return f"[{shown}{', ...' if len(dims) > 8 else ''}]"


# Where numpy_helper keeps each type's values when not in raw_data, and how many
# elements share one stored value (sub-byte types are packed); complex takes two.
_TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")
_PER_VALUE = {DType.UINT4: 2, DType.INT4: 2, DType.FLOAT4E2M1: 2, DType.UINT2: 4, DType.INT2: 4}
_VALUES_PER_ELEMENT = {DType.COMPLEX64: 2, DType.COMPLEX128: 2}


def check_tensor(t: TensorProto, origin: str) -> tuple[DType, tuple[int, ...]]:
    """Validate a TensorProto's type, dims and (inline) data size; returns (dtype, dims).

    External data is checked against its file by :mod:`converters.onnx.external`."""
    what = f"tensor {show(t.name)}"
    if t.HasField("segment"):
        raise ModelLoadError(origin, f"{what} is stored in segments", "Re-export it as one tensor")
    dtype = element_type(t.data_type, what, origin)
    dims = checked_dims(t.dims, what, origin)
    count = math.prod(dims)
    nbytes = storage_bytes(dtype, count) if dtype != DType.STRING else count
    if nbytes > MAX_TENSOR_BYTES:
        raise ModelLoadError(origin, f"{what} claims dims {_fmt(dims)} ({nbytes:,} bytes), beyond "
                             f"the {MAX_TENSOR_BYTES:,}-byte limit", "The dims are corrupt; re-export the model")
    typed = [f for f in _TYPED_FIELDS if len(getattr(t, f))]
    if t.HasField("data_location") and t.data_location == TensorProto.EXTERNAL:
        if t.HasField("raw_data") or typed:
            raise ModelLoadError(origin, f"{what} is marked external but also holds inline data",
                                 "Keep one copy of the data; re-export the model")
        return dtype, dims
    if t.HasField("raw_data"):
        if typed:
            raise ModelLoadError(origin, f"{what} holds both raw_data and {typed[0]}",
                                 "Keep one copy of the data; re-export the model")
        if dtype == DType.STRING:
            raise ModelLoadError(origin, f"{what} is a STRING tensor with raw_data",
                                 "Strings belong in string_data; re-export the model")
        if len(t.raw_data) != nbytes:
            raise ModelLoadError(origin, f"{what} has dims {_fmt(dims)} of {dtype.name} "
                                 f"({nbytes:,} bytes) but {len(t.raw_data):,} bytes of raw_data",
                                 "The tensor is truncated or its dims are wrong; re-export the model")
        return dtype, dims
    field = onnx.helper.tensor_dtype_to_field(int(dtype))
    per = _PER_VALUE.get(dtype, 1)
    expected = -(-count // per) * _VALUES_PER_ELEMENT.get(dtype, 1)
    found = len(getattr(t, field))
    if any(f != field for f in typed) or found != expected:
        where = typed[0] if typed and typed[0] != field else field
        found = len(getattr(t, where))
        raise ModelLoadError(origin, f"{what} has dims {_fmt(dims)} of {dtype.name} ({expected:,} "
                             f"values in {field}) but {found:,} values in {where}",
                             "The tensor's data does not match its dims; re-export the model")
    return dtype, dims


def to_array(t: TensorProto, origin: str) -> np.ndarray:
    """A dense inline TensorProto as numpy, validated first (:func:`check_tensor`); string
    tensors become object arrays of ``str``.

    Tensors stored as little-endian raw bytes of a byte-aligned type become a read-only
    array over those bytes (no second copy); kernels never write into their inputs."""
    dtype, dims = check_tensor(t, origin)
    if t.HasField("data_location") and t.data_location == TensorProto.EXTERNAL:
        raise ModelLoadError(origin, f"tensor {show(t.name)} keeps its data in an external file "
                             "here, where only inline data is read", "Store it inline")
    if int(dtype) in _RAW_OK and t.HasField("raw_data") and sys.byteorder == "little":
        return np.frombuffer(t.raw_data, dtype=dtype.np_dtype).reshape(dims)
    try:
        arr = numpy_helper.to_array(t)
    except Exception as e:  # checked above; this is a case the checks do not know yet
        raise ModelLoadError(origin, f"tensor {show(t.name)} cannot be decoded ({type(e).__name__}: "
                             f"{str(e)[:120]})", "The tensor's data does not match its dims/data_type; "
                             "re-export it") from e
    if t.data_type == TensorProto.STRING:
        flat = [x.decode("utf-8", errors="surrogateescape") if isinstance(x, bytes) else x
                for x in arr.reshape(-1)]
        arr = np.array(flat, dtype=object).reshape(arr.shape)
    return arr


_RAW_OK = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.INT32,
           TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16,
           TensorProto.FLOAT16, TensorProto.BOOL, TensorProto.UINT32, TensorProto.UINT64}


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


def _dims(shape: onnx.TensorShapeProto, what: str, origin: str) -> tuple[int | str | None, ...]:
    out: list[int | str | None] = []
    for d in shape.dim:
        which = d.WhichOneof("value")
        if which == "dim_value":
            # some exporters write -1 for "dynamic": read any negative dim as unknown
            out.append(int(d.dim_value) if d.dim_value >= 0 else None)
        else:
            out.append(d.dim_param if which == "dim_param" else None)
    if math.prod(d for d in out if isinstance(d, int) and d) > INT64_MAX:
        raise ModelLoadError(origin, f"{what} has a shape whose element count overflows int64",
                             "The shape is corrupt; re-export the model")
    return tuple(out)


_MAP_KEYS = {DType.STRING, DType.INT8, DType.INT16, DType.INT32, DType.INT64, DType.UINT8,
             DType.UINT16, DType.UINT32, DType.UINT64}


def type_from_proto(tp: onnx.TypeProto, what: str = "a value", origin: str = "<model>") -> ValueType | None:
    """The IR type of a TypeProto (None: nothing known); element codes and dims are checked.
    ``what`` and ``origin`` name the value and file in errors."""
    which = tp.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        tt = tp.tensor_type if which == "tensor_type" else tp.sparse_tensor_type
        dtype = element_type(tt.elem_type, what, origin)
        shape = _dims(tt.shape, what, origin) if tt.HasField("shape") else None
        return TensorType(dtype, shape) if which == "tensor_type" else SparseTensorType(dtype, shape)
    if which == "sequence_type":
        return SequenceType(_inner(tp.sequence_type, what, origin))
    if which == "optional_type":
        return OptionalType(_inner(tp.optional_type, what, origin))
    if which == "map_type":
        key = element_type(tp.map_type.key_type, f"{what} (map key)", origin)
        if key not in _MAP_KEYS:
            raise ModelLoadError(origin, f"{what} is a map with {key.name} keys",
                                 "Map keys are integers or strings; re-export the model")
        value = type_from_proto(tp.map_type.value_type, what, origin) if tp.map_type.HasField("value_type") else None
        return MapType(key, value)
    return None


def _inner(container: Any, what: str, origin: str) -> ValueType | None:
    return type_from_proto(container.elem_type, what, origin) if container.HasField("elem_type") else None


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
