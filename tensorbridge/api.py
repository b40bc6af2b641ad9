"""The public API: load, convert, save, run. Frameworks are imported lazily."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ir.errors import ModelLoadError, TensorbridgeError
from ir.graph import Graph
from ir.verify import verify
from tensorbridge.sources import kind_of

if TYPE_CHECKING:
    import onnx

TARGETS = ("onnx", "torch", "tensorflow")
# Above this many bytes of weights, save() writes external data (protobuf's hard limit is 2 GiB).
EXTERNAL_DATA_THRESHOLD = 1_800_000_000


class UnsupportedSourceError(TensorbridgeError):
    """The object or file given to load() is not a model tensorbridge can read (yet)."""


def load(source: Any, example_inputs: Any = None, dynamic_shapes: Any = None, *,
         opset: int | None = None, optimize: bool = True, strict_shapes: bool = True,
         keep_weight_layout: bool = False) -> Graph:
    """Load a model into the IR (verified).

    ``source``: an ``ir.Graph``; an ``onnx.ModelProto`` or ``.onnx`` path; a PyTorch
    ``nn.Module`` (with ``example_inputs``), ``ExportedProgram`` or ``.pt2`` path; a Keras
    model, ``tf.function`` (with an input signature), ``.keras`` file or SavedModel dir.
    ``dynamic_shapes`` (PyTorch): torch.export's spec or ``{"x": {0: "batch"}}``.
    Framework graphs are cleaned up (constant folding, no-op removal, CSE, DCE) unless
    ``optimize=False``. ``keep_weight_layout`` keeps every source weight as the source holds
    it (for migration to a framework) instead of re-laying some out for ONNX."""
    kind = kind_of(source)
    if kind == "ir":
        verify(source)
        return source
    if kind == "onnx":
        from converters.onnx import to_ir

        return to_ir(source)
    if kind in ("pytorch", "tensorflow"):
        graph = _front_end(kind, source, example_inputs, dynamic_shapes, opset, strict_shapes,
                           keep_weight_layout)
        if optimize:
            from tensorbridge.pipeline import optimize as run_passes

            run_passes(graph, keep_weights=keep_weight_layout)
        return graph
    if isinstance(source, str | os.PathLike) and Path(source).is_dir():
        raise UnsupportedSourceError(
            f"{source}: is a directory without saved_model.pb; pass a SavedModel directory, "
            "a .keras, .pt2 or .onnx file")
    raise UnsupportedSourceError(
        f"cannot load a {type(source).__module__}.{type(source).__name__}: this version reads "
        "ONNX models (ModelProto or .onnx), PyTorch models (nn.Module, ExportedProgram, .pt2) "
        "and TensorFlow models (Keras model, tf.function, .keras, SavedModel)")


def _front_end(kind: str, source: Any, example_inputs: Any, dynamic_shapes: Any, opset: int | None,
               strict_shapes: bool, keep_weight_layout: bool = False) -> Graph:
    if kind == "pytorch":
        from converters.pytorch.to_ir import to_ir as torch_to_ir

        return torch_to_ir(source, example_inputs, dynamic_shapes=dynamic_shapes, opset=opset,
                           strict_shapes=strict_shapes, keep_weight_layout=keep_weight_layout)
    if dynamic_shapes is not None:
        raise UnsupportedSourceError("dynamic_shapes is for PyTorch; TensorFlow takes dynamic dims "
                                     "from the input signature (None dims)")
    from converters.tensorflow.to_ir import to_ir as tf_to_ir

    return tf_to_ir(source, example_inputs, opset=opset)


def convert(source: Any, example_inputs: Any = None, to: str = "onnx", *, opset: int | None = None,
            dynamic_shapes: Any = None, strict_shapes: bool = True) -> Any:
    """Convert ``source`` (anything :func:`load` takes) to ``to``: "onnx" gives an
    ``onnx.ModelProto``; "torch" a ``torch.nn.Module`` and "tensorflow" a ``tf.Module``,
    both with trainable weights named after the source's (see tensorbridge.migrate)."""
    from tensorbridge.migrate import emit, target_of

    migrate_to = target_of(to)
    if to != "onnx" and migrate_to is None:
        raise TensorbridgeError(f"convert: unknown target {to!r}; available: {', '.join(TARGETS)}")
    graph = load(source, example_inputs, dynamic_shapes, opset=opset, strict_shapes=strict_shapes,
                 keep_weight_layout=migrate_to is not None)
    if migrate_to is not None:
        # neutral cleanups only (BatchNorm stays trainable); the graph is ours to consume
        return emit(graph, migrate_to, consume=True)
    from converters.onnx import from_ir

    if kind_of(source) in ("pytorch", "tensorflow"):
        from tensorbridge.pipeline import optimize as run_passes

        run_passes(graph, deployment=True)
        return from_ir(graph, opset=opset, release_weights=True)  # the graph is ours to consume
    return from_ir(graph, opset=opset)


def save(model: Any, path: str | os.PathLike[str], *, external_data: bool | None = None) -> Path:
    """Write a Graph or ModelProto to ``path`` atomically (temp files, then rename).

    Weights go to ``<name>.data`` next to the model when ``external_data`` is True, or, by
    default, when they exceed what one protobuf can hold. A module from
    ``convert(..., to="torch")`` is written as a folder (``model.py`` + ``model.safetensors``),
    one from ``to="tensorflow"`` as a SavedModel folder. Returns the path written."""
    import onnx

    from converters.onnx import from_ir
    from tensorbridge.migrate import emitted_kind, save_emitted

    if emitted_kind(model) is not None:
        return save_emitted(model, path)

    proto = from_ir(model) if isinstance(model, Graph) else model
    if not isinstance(proto, onnx.ModelProto):
        raise TensorbridgeError(f"save: expected an ir.Graph or onnx.ModelProto, got {type(model).__name__}")
    target = Path(path)
    if not target.parent.is_dir():
        raise TensorbridgeError(f"save: directory {target.parent} does not exist; create it first")
    if external_data is None:
        external_data = sum(t.ByteSize() for t in proto.graph.initializer) > EXTERNAL_DATA_THRESHOLD
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        data_name = f"{target.name}.data"
        if external_data:
            proto = _with_external_data(proto, tmpdir, data_name)
        (tmpdir / target.name).write_bytes(proto.SerializeToString(deterministic=True))
        if (tmpdir / data_name).exists():
            os.replace(tmpdir / data_name, target.parent / data_name)
        os.replace(tmpdir / target.name, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return target


def _with_external_data(proto: onnx.ModelProto, folder: Path, data_name: str) -> onnx.ModelProto:
    import onnx
    from onnx import external_data_helper as edh

    out = onnx.ModelProto()
    out.CopyFrom(proto)
    edh.convert_model_to_external_data(out, all_tensors_to_one_file=True, location=data_name,
                                       size_threshold=0, convert_attribute=False)
    edh.write_external_data_tensors(out, str(folder))
    return out


def run(model: Any, *inputs: Any) -> list[np.ndarray]:
    """Run a Graph, ModelProto or .onnx path on the built-in numpy runtime."""
    from runtime.session import Session

    graph = load(model)
    # lists are sequences and None an empty optional: pass them through untouched
    return Session(graph).run([x if x is None or isinstance(x, list) else np.asarray(x) for x in inputs])


__all__ = ["ModelLoadError", "TensorbridgeError", "UnsupportedSourceError", "convert", "load", "run", "save"]
