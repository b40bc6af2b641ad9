"""Cross-framework migration: the IR emitted as a PyTorch ``nn.Module`` or a TensorFlow
``tf.Module`` (weights included, trainable), run on numpy feeds, and saved as files
(PyTorch: ``model.py`` + ``model.safetensors``; TensorFlow: a SavedModel)."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np

from ir.errors import TensorbridgeError
from ir.graph import Graph

ALIASES = {"torch": "torch", "pytorch": "torch", "tensorflow": "tensorflow", "tf": "tensorflow"}


def target_of(to: str) -> str | None:
    """'torch' / 'tensorflow' for a migration target name, None for anything else."""
    return ALIASES.get(to.lower())


def emit(graph: Graph, to: str, *, consume: bool = False) -> Any:
    """The IR as a framework module (``to``: 'torch' or 'tensorflow'). For TensorFlow the
    layout-bearing ops go channels-last first (on a copy unless ``consume``)."""
    if target_of(to) == "torch":
        from converters.pytorch.from_ir import from_ir

        return from_ir(graph)
    from converters.tensorflow.from_ir import from_ir as tf_from_ir

    return tf_from_ir(channels_last(graph if consume else copy.deepcopy(graph)))


def channels_last(graph: Graph) -> Graph:
    """Conv/pool ops channels-last between Transposes, then the transpose pass cancels the
    pairs and the weights' Transposes fold into the (still named, trainable) parameters."""
    from ir.passes import eliminate_dead_code
    from ir.passes.channels_last import to_channels_last
    from ir.passes.fold_constants import fold_constants
    from ir.passes.simplify import remove_no_ops
    from ir.passes.transpose import optimize_transposes
    from ir.verify import verify
    from runtime.evaluate import evaluate_node

    if to_channels_last(graph).changed:
        fold_constants(graph, evaluate_node)
        optimize_transposes(graph)
        remove_no_ops(graph)
        eliminate_dead_code(graph, keep_weights=True)
    verify(graph)
    return graph


def emitted_kind(obj: Any) -> str | None:
    """'torch' / 'tensorflow' when ``obj`` is a module tensorbridge emitted."""
    module = type(obj).__module__ or ""
    if module.startswith("converters.pytorch.from_ir"):
        return "torch"
    if module.startswith("converters.tensorflow.from_ir"):
        return "tensorflow"
    return None


def run_emitted(module: Any, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """Run an emitted module on numpy inputs; numpy outputs."""
    if emitted_kind(module) == "torch":
        from converters.pytorch.from_ir import run_numpy
    else:
        from converters.tensorflow.from_ir import run_numpy  # type: ignore[assignment]
    return run_numpy(module, feeds)


def save_emitted(module: Any, path: str | os.PathLike[str], *, origin: str = "") -> Path:
    """PyTorch: a folder with ``model.py`` + ``model.safetensors``; TensorFlow: a SavedModel
    folder. Written to a temp folder first, then renamed into place."""
    kind = emitted_kind(module)
    if kind == "torch":
        from converters.pytorch.from_ir import save
        from tensorbridge.inputs import example_from_graph

        return save(module, path, example_from_graph(module.graph), origin=origin)
    if kind != "tensorflow":
        raise TensorbridgeError(f"save: {type(module).__name__} is not a module tensorbridge emitted")
    from converters.tensorflow.from_ir import save as tf_save

    return tf_save(module, path)
