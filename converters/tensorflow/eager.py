"""Run a TensorFlow/Keras source eagerly (the reference for parity checks)."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.tensorflow.capture import load_source, serving_signature
from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.records import LayerRecord


def eager_outputs(source: Any, feeds: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(inputs as numpy, outputs as numpy, flattened in the converted graph's output
    order) of the source run eagerly on ``feeds`` (one array or a tuple/list of arrays)."""
    if feeds is None:
        raise TensorbridgeError("a TensorFlow reference run needs inputs: pass example_inputs "
                                "(or inputs=) as arrays matching the model's input signature")
    import keras

    owner = load_source(source)  # keeps a loaded SavedModel (and its variables) alive
    source = owner
    is_keras = isinstance(source, keras.Model | keras.layers.Layer)
    if not is_keras and not isinstance(source, tf.types.experimental.ConcreteFunction) \
            and hasattr(source, "signatures"):
        source = serving_signature(source.signatures, "the SavedModel")
    arrays = [np.asarray(a) for a in (feeds if isinstance(feeds, list | tuple) else [feeds])]
    tensors = [tf.constant(a) for a in arrays]
    if is_keras:
        out = source(_keras_args(source, tensors), training=False)
    elif isinstance(source, tf.types.experimental.ConcreteFunction) and _keyword_only(source):
        # SavedModel signatures take keyword arguments only; inputs are in key order
        out = source(**dict(zip(sorted(source.structured_input_signature[1]), tensors)))
    else:
        out = source(*tensors)
    return arrays, [np.asarray(t) for t in tf.nest.flatten(out)]


def _keras_args(model: Any, tensors: list[Any]) -> Any:
    """The model's input structure: a dict (inputs in sorted-key order), a list, or one tensor."""
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, dict):
        return dict(zip(sorted(struct), tensors))
    return tensors[0] if len(tensors) == 1 else tensors


def _keyword_only(fn: Any) -> bool:
    args, kwargs = fn.structured_input_signature
    return not args and bool(kwargs)


def eager_layer_records(source: Any, feeds: Any) -> list[Any]:
    """Every layer's output, in execution order, from one eager run of a functional view of
    the model that returns all layer outputs (Keras functional and Sequential models; other
    sources give no layer records)."""
    import keras

    model = load_source(source)
    if not isinstance(model, keras.Model):
        return []
    try:
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        probe = keras.Model(model.inputs, [layer.output for layer in layers])
    except (AttributeError, ValueError, TypeError):
        return []  # subclassed models have no symbolic layer graph
    arrays = [np.asarray(a) for a in (feeds if isinstance(feeds, list | tuple) else [feeds])]
    values = probe(_keras_args(model, [tf.constant(a) for a in arrays]), training=False)
    values = values if isinstance(values, list | tuple) else [values]
    return [LayerRecord(layer.name, [], [np.asarray(v)], channels_last=True) for layer, v in zip(layers, values)]
