"""IR -> TensorFlow: :class:`IRTFModule` (a ``tf.Module`` with named ``tf.Variable``s and a
``tf.function`` signature, savable as a SavedModel). Imports tensorflow."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge.converters.tensorflow.from_ir.module import IRTFModule
from tensorbridge.ir.graph import Graph


def from_ir(graph: Graph) -> IRTFModule:
    """A ``tf.Module`` computing ``graph``; variables named after the source weights."""
    return IRTFModule(graph)


def run_numpy(module: IRTFModule, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run the module on numpy inputs; numpy outputs."""
    import tensorflow as tf

    outs = module.serve(*[tf.constant(x) for x in feeds])
    return [_numpy(o) for o in (outs if isinstance(outs, tuple) else (outs,))]


def capture_numpy(module: IRTFModule, feeds: Sequence[np.ndarray],
                  names: frozenset[str]) -> dict[str, np.ndarray]:
    """One eager run on numpy inputs keeping the values ``names`` of ``module.graph`` (the IR
    value names): what a parity check compares layer by layer with the source."""
    import tensorflow as tf

    plan = module._plan
    env = module._interp.run(plan, dict(zip(plan.inputs, [tf.constant(x) for x in feeds], strict=True)),
                             keep=names)
    return {n: env[n].numpy() for n in names if isinstance(env.get(n), tf.Tensor | tf.Variable)}


class SavedModule:
    """A SavedModel folder written by :func:`save`, loaded back (``serve`` is its signature)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        import tensorflow as tf

        from tensorbridge.ir.errors import ModelLoadError

        try:
            self.loaded = tf.saved_model.load(str(folder))
        except Exception as e:  # TF raises many unrelated types here
            raise ModelLoadError(str(folder), f"the SavedModel does not load back ({type(e).__name__}: "
                                 f"{str(e)[:200]})", "Convert again; the folder may be incomplete") from e
        self.serve = self.loaded.serve
        self.trainable_variables = list(getattr(self.loaded, "trainable_variables", []) or [])


def save(module: IRTFModule, folder: str | os.PathLike[str]) -> Path:
    """A SavedModel in ``folder`` (serving signature: the module's input signature)."""
    import tensorflow as tf

    from tensorbridge.converters.files import atomic_folder

    with atomic_folder(folder) as tmp:
        tf.saved_model.save(module, str(tmp),
                            signatures={"serving_default": module.serve.get_concrete_function()})
    return Path(folder)


__all__ = ["IRTFModule", "SavedModule", "capture_numpy", "from_ir", "run_numpy", "save"]


def _numpy(o: Any) -> Any:
    """An output as numpy: a tensor -> ndarray; a sequence (list) or map (dict, ZipMap's rows)
    element by element; numpy strings as they are."""
    if isinstance(o, list | tuple):
        return [_numpy(v) for v in o]
    if isinstance(o, dict):
        return {k: _numpy(v) for k, v in o.items()}
    if isinstance(o, np.ndarray):
        return o
    return o.numpy()
