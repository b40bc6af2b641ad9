"""TensorFlow/Keras <-> IR. Importing this package does not import tensorflow; its
functions do (and ``is_tensorflow_model`` only looks at objects when TF is loaded)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def to_ir(source: Any, example_inputs: Any = None, **kwargs: Any) -> Any:
    """TensorFlow/Keras model -> ir.Graph; see converters.tensorflow.to_ir.to_ir."""
    from tensorbridge.converters.tensorflow.to_ir import to_ir as _to_ir

    return _to_ir(source, example_inputs, **kwargs)


def is_tensorflow_model(obj: Any) -> bool:
    """A Keras model or layer, a tf.function, a ConcreteFunction, or a loaded SavedModel
    object (with ``signatures``). Checked without importing tensorflow when it is not
    loaded: then the object cannot be one."""
    if "tensorflow" not in sys.modules:
        return False
    import tensorflow as tf

    types = (tf.types.experimental.PolymorphicFunction, tf.types.experimental.ConcreteFunction)
    if isinstance(obj, types):
        return True
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(obj, keras.Model | keras.layers.Layer):
        return True
    from tensorflow.python.trackable.base import Trackable

    return isinstance(obj, Trackable) and hasattr(obj, "signatures")


def is_tensorflow_path(path: str | os.PathLike[str]) -> bool:
    """A ``.keras`` or Keras ``.h5`` file or a SavedModel directory (by name and layout;
    nothing is read)."""
    p = Path(path)
    if p.suffix.lower() in (".keras", ".h5", ".hdf5"):
        return True
    return p.is_dir() and (p / "saved_model.pb").is_file()


__all__ = ["is_tensorflow_model", "is_tensorflow_path", "to_ir"]
