"""External tensor data: reading it lazily and safely, and deciding when to write it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from ir.dtypes import DType
from ir.errors import ModelLoadError
from ir.node import LazyTensor

# Protobuf cannot serialize a message of 2 GiB or more.
PROTOBUF_LIMIT = 2**31 - 1


def is_external(t: TensorProto) -> bool:
    return t.HasField("data_location") and t.data_location == TensorProto.EXTERNAL


def lazy_tensor(t: TensorProto, base_dir: Path | None, origin: str) -> LazyTensor:
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise ModelLoadError(origin, f"initializer {t.name!r} keeps its data in external file "
                             f"{location!r}, but the model was given as an object",
                             "Load the model from its .onnx path so the data file can be found")
    path = resolve_location(base_dir, location, t.name, origin)
    offset = int(info.get("offset", 0) or 0)
    dtype = DType(t.data_type)
    shape = tuple(int(d) for d in t.dims)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.np_dtype.itemsize
    length = int(info.get("length", nbytes) or nbytes)
    if not path.is_file():
        raise ModelLoadError(origin, f"initializer {t.name!r}: external data file {location!r} is "
                             f"missing (looked in {base_dir})",
                             "Copy the data file next to the .onnx file")
    size = path.stat().st_size
    if offset + min(length, nbytes) > size:
        raise ModelLoadError(origin, f"initializer {t.name!r}: external data {location!r} has "
                             f"{size} bytes, needs {offset + nbytes}", "The data file is truncated")

    def load() -> np.ndarray:
        if dtype.itemsize_bits < 8 or dtype == DType.STRING:
            raise ModelLoadError(origin, f"initializer {t.name!r}: external data of type "
                                 f"{dtype.name} is not supported", "Store it inline")
        mm = np.memmap(path, dtype=dtype.np_dtype, mode="r", offset=offset, shape=shape)
        return mm

    return LazyTensor(dtype, shape, load, origin=f"{location}@{offset}")


def resolve_location(base_dir: Path, location: str, tensor: str, origin: str) -> Path:
    """The data file for ``location``; refuses anything outside the model's directory."""
    if not location:
        raise ModelLoadError(origin, f"initializer {tensor!r} is external but names no location",
                             "Re-export the model")
    base = base_dir.resolve()
    candidate = (base / location).resolve()
    if os.path.isabs(location) or not candidate.is_relative_to(base):
        raise ModelLoadError(origin, f"initializer {tensor!r}: external data location {location!r} "
                             "points outside the model's directory; refusing to read it (path "
                             "traversal)", "Move the data file next to the model and fix the location")
    return candidate


def total_initializer_bytes(model: onnx.ModelProto) -> int:
    return sum(t.ByteSize() for t in model.graph.initializer)
