"""Cross-framework migration: the IR emitted as a PyTorch ``nn.Module`` or a TensorFlow
``tf.Module`` (weights included, trainable), run on numpy feeds, and saved as files
(PyTorch: ``model.py`` + ``model.safetensors``; TensorFlow: a SavedModel)."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph


def emit(graph: Graph, to: str, *, consume: bool = False) -> Any:
    """The IR as a framework module (``to``: 'torch' or 'tensorflow', as normalised by
    ``route.normalize_target``). For TensorFlow the layout-bearing ops go channels-last
    first (on a copy unless ``consume``)."""
    if to == "torch":
        from tensorbridge.converters.pytorch.from_ir import from_ir

        return from_ir(graph)
    from tensorbridge.converters.tensorflow.from_ir import from_ir as tf_from_ir

    return tf_from_ir(channels_last(graph if consume else copy.deepcopy(graph)))


def channels_last(graph: Graph) -> Graph:
    """Conv/pool ops channels-last between Transposes, then the transpose pass cancels the
    pairs. Weights keep their source shapes: a layout change left on a weight (a PyTorch
    conv kernel read channels-last) stays an op, which inference computes once."""
    from tensorbridge.converters.emitting import name_weights
    from tensorbridge.ir.passes import eliminate_dead_code
    from tensorbridge.ir.passes.channels_last import to_channels_last
    from tensorbridge.ir.passes.fold_constants import fold_constants
    from tensorbridge.ir.passes.simplify import remove_no_ops
    from tensorbridge.ir.passes.transpose import optimize_transposes
    from tensorbridge.ir.verify import verify
    from tensorbridge.runtime.evaluate import evaluate_node

    name_weights(graph)  # an ONNX graph's weights stay named (and trainable) through the folds
    if to_channels_last(graph).changed:
        fold_constants(graph, evaluate_node, relayout_weights=False)
        optimize_transposes(graph, keep_weight_layout=True)
        remove_no_ops(graph)
        eliminate_dead_code(graph, keep_weights=True)
    verify(graph)
    return graph


# model.py files that tensorbridge wrote are imported under names with this prefix
SAVED_TORCH_PREFIX = "tensorbridge_emitted_"


def emitted_kind(obj: Any) -> str | None:
    """'torch' / 'tensorflow' when ``obj`` is a module tensorbridge emitted (or saved and
    loaded back)."""
    module = type(obj).__module__ or ""
    if module.startswith(("tensorbridge.converters.pytorch.from_ir", SAVED_TORCH_PREFIX)):
        return "torch"
    if module.startswith("tensorbridge.converters.tensorflow.from_ir"):
        return "tensorflow"
    return None


def run_emitted(module: Any, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """Run an emitted module on numpy inputs; numpy outputs."""
    if emitted_kind(module) == "torch":
        from tensorbridge.converters.pytorch.from_ir import run_numpy
    else:
        from tensorbridge.converters.tensorflow.from_ir import run_numpy  # type: ignore[assignment]
    return run_numpy(module, feeds)


def load_saved(folder: str | os.PathLike[str], kind: str) -> Any:
    """A folder that :func:`save_emitted` wrote, loaded back as a user would: PyTorch by
    importing its ``model.py`` (our own code, just written), TensorFlow as a SavedModel."""
    if kind == "torch":
        from tensorbridge.converters.pytorch.from_ir.codegen import load

        return load(folder)
    from tensorbridge.converters.tensorflow.from_ir import SavedModule

    return SavedModule(folder)


def capture_emitted(module: Any, feeds: list[np.ndarray], names: frozenset[str]) -> dict[str, np.ndarray]:
    """One run of an emitted module keeping the values ``names`` of ``module.graph``."""
    if emitted_kind(module) == "torch":
        from tensorbridge.converters.pytorch.from_ir import capture_numpy
    else:
        from tensorbridge.converters.tensorflow.from_ir import capture_numpy  # type: ignore[assignment]
    return capture_numpy(module, feeds, names)


def save_emitted(module: Any, path: str | os.PathLike[str], *, origin: str = "") -> Path:
    """PyTorch: a folder with ``model.py`` + ``model.safetensors``; TensorFlow: a SavedModel
    folder. Written to a temp folder first, then renamed into place."""
    kind = emitted_kind(module)
    if kind == "torch":
        from tensorbridge.converters.pytorch.from_ir import save
        from tensorbridge.inputs import example_from_graph

        return save(module, path, example_from_graph(module.graph), origin=origin)
    if kind != "tensorflow":
        raise TensorbridgeError(f"save: {type(module).__name__} is not a module tensorbridge emitted")
    from tensorbridge.converters.tensorflow.from_ir import save as tf_save

    return tf_save(module, path)
