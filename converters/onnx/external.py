"""External tensor data: reading it lazily and safely, and writing a model with its data
file as one atomic unit (:func:`save_model`)."""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from tensorbridge.converters.onnx.protos import check_tensor, show, storage_bytes
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import ModelLoadError, TensorbridgeError
from tensorbridge.ir.node import LazyTensor

# Protobuf cannot serialize a message of 2 GiB or more.
PROTOBUF_LIMIT = 2**31 - 1
# Initializers above this many bytes are saved (and checked) as external data by default.
EXTERNAL_DATA_THRESHOLD = 1_800_000_000


def is_external(t: TensorProto) -> bool:
    return t.HasField("data_location") and t.data_location == TensorProto.EXTERNAL


# The keys the ONNX spec defines for TensorProto.external_data; others are ignored.
_KEYS = ("location", "offset", "length", "checksum")
_NUMBER = re.compile(r"[0-9]{1,19}")


def lazy_tensor(t: TensorProto, base_dir: Path | None, origin: str) -> LazyTensor:
    """A tensor whose bytes live in an external file, every key checked against the file
    before anything is mapped: location inside the model's folder, offset and length
    numbers that fit the file, and a length that matches the dims."""
    dtype, shape = check_tensor(t, origin)
    what = f"tensor {show(t.name)}"
    info = _external_info(t, what, origin)
    location = info.get("location", "")
    if base_dir is None:
        raise ModelLoadError(origin, f"{what} keeps its data in external file {show(location)}, "
                             "but the model was given as an object",
                             "Load the model from its .onnx path so the data file can be found")
    path = resolve_location(base_dir, location, t.name, origin)
    if dtype.itemsize_bits < 8 or dtype == DType.STRING:
        raise ModelLoadError(origin, f"{what}: external data of type {dtype.name} is not supported",
                             "Store it inline")
    nbytes = storage_bytes(dtype, math.prod(shape))
    offset = _number(info, "offset", 0, what, origin)
    length = _number(info, "length", nbytes, what, origin)
    if length != nbytes:
        raise ModelLoadError(origin, f"{what}: external data length {length:,} disagrees with its "
                             f"dims {list(shape)[:8]} of {dtype.name} ({nbytes:,} bytes)",
                             "The model's external_data entries are corrupt; re-export the model")
    size = _file_size(path, what, location, base_dir, origin)
    if offset + nbytes > size:
        raise ModelLoadError(origin, f"{what}: external data {show(location)} has {size:,} bytes, "
                             f"but the tensor needs bytes {offset:,}..{offset + nbytes:,}",
                             "The data file is truncated or belongs to another model; copy the "
                             "matching one")

    def load() -> np.ndarray:
        if nbytes == 0:
            return np.empty(shape, dtype.np_dtype)
        try:
            return np.memmap(path, dtype=dtype.np_dtype, mode="r", offset=offset, shape=shape)
        except (OSError, ValueError) as e:  # the file changed after the model was loaded
            raise ModelLoadError(origin, f"{what}: cannot map external data {show(location)} "
                                 f"({e})", "Load the model again") from e

    return LazyTensor(dtype, shape, load, origin=f"{location}@{offset}")


def _file_size(path: Path, what: str, location: str, base_dir: Path, origin: str) -> int:
    try:
        if path.is_file():
            return path.stat().st_size
    except OSError as e:  # e.g. a name too long for the file system
        raise ModelLoadError(origin, f"{what}: cannot open external data file {show(location)} "
                             f"({e.strerror})", "Fix the location to name the data file") from e
    raise ModelLoadError(origin, f"{what}: external data file {show(location)} is missing "
                         f"(looked in {base_dir})", "Copy the data file next to the .onnx file")


def _external_info(t: TensorProto, what: str, origin: str) -> dict[str, str]:
    info: dict[str, str] = {}
    for e in t.external_data:
        if e.key in info:
            raise ModelLoadError(origin, f"{what}: external_data key {show(e.key)} is given twice",
                                 "The model's external_data entries are corrupt; re-export the model")
        info[e.key] = e.value
    return {k: v for k, v in info.items() if k in _KEYS}


def _number(info: dict[str, str], key: str, default: int, what: str, origin: str) -> int:
    raw = info.get(key)
    if raw is None or raw == "":
        return default
    if not _NUMBER.fullmatch(raw):
        why = "negative" if raw.startswith("-") else "not a number"
        raise ModelLoadError(origin, f"{what}: external data {key} {show(raw)} is {why}",
                             f"{key} must be a byte count >= 0; the model's external_data entries "
                             "are corrupt, re-export the model")
    return int(raw)


def resolve_location(base_dir: Path, location: str, tensor: str, origin: str) -> Path:
    """The data file for ``location``; refuses anything outside the model's directory."""
    what = f"tensor {show(tensor)}"
    if not location:
        raise ModelLoadError(origin, f"{what} is external but names no location", "Re-export the model")
    if "\x00" in location:
        raise ModelLoadError(origin, f"{what}: external data location {show(location)} contains a "
                             "NUL byte; refusing it", "Fix the location to name the data file")
    base = base_dir.resolve()
    try:
        candidate = (base / location).resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop, a name too long
        raise ModelLoadError(origin, f"{what}: external data location {show(location)} cannot be "
                             f"resolved ({getattr(e, 'strerror', None) or e})", "Fix the location to name the data file") from e
    if os.path.isabs(location) or not candidate.is_relative_to(base):
        raise ModelLoadError(origin, f"{what}: external data location {show(location)} points "
                             "outside the model's directory (path traversal); refused",
                             "Move the data file next to the model and fix the location")
    return candidate


def total_initializer_bytes(model: onnx.ModelProto) -> int:
    return sum(t.ByteSize() for t in model.graph.initializer)


def needs_external_data(model: onnx.ModelProto) -> bool:
    """Whether ``model``'s weights are too big to keep in one protobuf message: saved,
    checked and run as external data."""
    return total_initializer_bytes(model) > EXTERNAL_DATA_THRESHOLD


def temporary_external_copy(model: onnx.ModelProto, prefix: str) -> tuple[Path, Any]:
    """``model`` written as tb.save writes it (external data) into a new temporary folder:
    (the .onnx path, the ``TemporaryDirectory``, which removes the folder when dropped --
    keep it as long as the file is read)."""
    import tempfile

    folder = tempfile.TemporaryDirectory(prefix=prefix)
    return save_model(model, Path(folder.name) / "model.onnx", external=True), folder


# ------------------------------------------------------------------ writing
# Each tensor starts at a multiple of this in the data file, so memory-mapped weights are
# aligned for every element type.
DATA_ALIGN = 64
# Tensors smaller than this stay in the .onnx (onnx's own external-data default,
# ``size_threshold=1024``): shapes, axes and pads must be readable by shape inference, and
# onnx.checker's full check cannot parse them from a data file ("Cannot parse data from
# external tensors" on an opset-18 ReduceMean's axes).
INLINE_MAX_BYTES = 1024
_DIGEST_CHARS = 12
# A previous model is read (to find the data file it used) only when this small: a model
# that keeps its weights outside is small, one that is larger keeps them inline.
_PREVIOUS_MODEL_LIMIT = 64 * 2**20


def data_file_name(model_name: str, digest: str) -> str:
    """The data file of ``model_name``: named after its content, so that a new data file
    never overwrites the one the current model reads."""
    return f"{model_name}.{digest[:_DIGEST_CHARS]}.data"


def save_model(proto: onnx.ModelProto, target: Path, *, external: bool, owned: bool = False) -> Path:
    """Write ``proto`` to ``target`` atomically, its weights in a data file when ``external``.

    The data file is written first under a temporary name, then given its content-derived
    name (:func:`data_file_name`); then the .onnx that refers to it replaces ``target`` in
    one rename - the commit point; then data files the previous model used are removed. A
    kill at any moment leaves ``target`` reading the old data or the new, never a mix.
    ``owned``: ``proto`` may be consumed (its weights move out of it)."""
    from tensorbridge.converters import files

    files.check_file_target(target)
    folder = target.parent
    files.sweep(folder)
    _refuse_foreign_external(proto)
    with ExitStack() as stack:
        data_tmp = stack.enter_context(files.temporary(target)) if external else None
        data_name = None
        if data_tmp is not None:
            proto, data_name = _write_data(proto, data_tmp, target.name, owned)
        blob = _serialize(proto, target)
        model_tmp = stack.enter_context(files.temporary(target))
        model_tmp.write_bytes(blob)
        del blob
        files.fsync(model_tmp)
        with files.folder_lock(folder):
            previous = _data_files_of(target)
            if data_tmp is not None and data_name is not None:
                os.replace(data_tmp, folder / data_name)
            os.replace(model_tmp, target)  # the commit point
            files.fsync(folder)
            _remove_old_data(folder, target.name, previous, keep=data_name)
    return target


def _write_data(proto: onnx.ModelProto, path: Path, model_name: str,
                owned: bool) -> tuple[onnx.ModelProto, str | None]:
    """Move every raw initializer of at least :data:`INLINE_MAX_BYTES` into ``path``; returns
    the model referring to them and the data file's name (None: nothing to move)."""
    out = proto
    if not owned:
        out = onnx.ModelProto()
        out.CopyFrom(proto)
    digest = hashlib.sha256()
    placed: list[tuple[TensorProto, int, int]] = []
    offset = 0
    with open(path, "r+b") as f:
        for t in _initializers(out.graph):
            if (not t.HasField("raw_data") or t.data_type == TensorProto.STRING
                    or len(t.raw_data) < INLINE_MAX_BYTES):
                continue
            pad = b"\0" * (-offset % DATA_ALIGN)
            raw = t.raw_data
            for chunk in (pad, raw):
                f.write(chunk)
                digest.update(chunk)
            offset += len(pad)
            placed.append((t, offset, len(raw)))
            offset += len(raw)
            t.ClearField("raw_data")
            del raw
        f.flush()
        os.fsync(f.fileno())
    if not placed:
        return out, None
    name = data_file_name(model_name, digest.hexdigest())
    for t, start, length in placed:
        t.data_location = TensorProto.EXTERNAL
        del t.external_data[:]
        for key, value in (("location", name), ("offset", str(start)), ("length", str(length))):
            t.external_data.add(key=key, value=value)
    return out, name


def _initializers(graph: onnx.GraphProto) -> Iterator[TensorProto]:
    """The initializers of ``graph`` and of every subgraph in it."""
    stack = [graph]
    while stack:
        g = stack.pop()
        yield from g.initializer
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    stack.append(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    stack.extend(a.graphs)


def _refuse_foreign_external(proto: onnx.ModelProto) -> None:
    for t in _initializers(proto.graph):
        if is_external(t):
            location = next((e.value for e in t.external_data if e.key == "location"), "")
            raise TensorbridgeError(
                f"save: initializer {show(t.name)} keeps its data in {show(location)}, relative to "
                "the file it was read from; load the model with its data (onnx.load(path) or "
                "tb.load(path)) before saving it elsewhere")


def _serialize(proto: onnx.ModelProto, target: Path) -> bytes:
    try:
        return proto.SerializeToString(deterministic=True)
    except ValueError as e:  # protobuf refuses messages of 2 GiB or more
        raise TensorbridgeError(f"save: {target.name} is too large for one protobuf ({e}); save it "
                                "with external_data=True") from e


def _data_files_of(target: Path) -> set[str]:
    """The external data files ``target`` (the model about to be replaced) reads."""
    try:
        if not target.is_file() or target.stat().st_size > _PREVIOUS_MODEL_LIMIT:
            return set()
        old = onnx.ModelProto.FromString(target.read_bytes())
    except Exception:  # an unreadable previous model is simply replaced
        return set()
    return {e.value for t in _initializers(old.graph) if is_external(t)
            for e in t.external_data if e.key == "location"}


def _remove_old_data(folder: Path, model_name: str, previous: set[str], keep: str | None) -> None:
    """Remove the data files of ``model_name`` other than ``keep``: the one the replaced model
    read, and any left by a save killed between writing its data and its commit. Only names
    this module writes (``<model>.<digest>.data``, and ``<model>.data`` of older versions
    when the replaced model read it) are touched."""
    ours = re.compile(re.escape(model_name) + r"\.[0-9a-f]{" + str(_DIGEST_CHARS) + r"}\.data")
    legacy = f"{model_name}.data"
    for path in folder.iterdir():
        name = path.name
        if name != keep and (ours.fullmatch(name) or (name == legacy and name in previous)):
            with suppress(FileNotFoundError):
                path.unlink()
