"""IR -> TensorFlow: :class:`IRTFModule` (a ``tf.Module`` with named ``tf.Variable``s and a
``tf.function`` signature, savable as a SavedModel). Imports tensorflow."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from converters.tensorflow.from_ir.module import IRTFModule
from ir.graph import Graph


def from_ir(graph: Graph) -> IRTFModule:
    """A ``tf.Module`` computing ``graph``; variables named after the source weights."""
    return IRTFModule(graph)


def run_numpy(module: IRTFModule, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run the module on numpy inputs; numpy outputs."""
    import tensorflow as tf

    outs = module(*[tf.constant(x) for x in feeds])
    return [o.numpy() for o in (outs if isinstance(outs, tuple) else (outs,))]


def save(module: IRTFModule, folder: str | os.PathLike[str]) -> Path:
    """A SavedModel in ``folder`` (serving signature: the module's input signature)."""
    import tensorflow as tf

    from converters.files import atomic_folder

    with atomic_folder(folder) as tmp:
        tf.saved_model.save(module, str(tmp),
                            signatures={"serving_default": module.serve.get_concrete_function()})
    return Path(folder)


__all__ = ["IRTFModule", "from_ir", "run_numpy", "save"]
