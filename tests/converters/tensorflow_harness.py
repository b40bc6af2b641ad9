"""Shared checks for TensorFlow front-end tests (helpers only; the tests live in the other
test_tensorflow_*.py files): convert, verify, write ONNX and run the full checker, then
compare the built-in runtime and onnxruntime with TensorFlow *eager* outputs."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402

from tensorbridge.converters.onnx import from_ir  # noqa: E402
from tensorbridge.converters.tensorflow.to_ir import to_ir  # noqa: E402
from tensorbridge.ir import Graph, verify  # noqa: E402
from tensorbridge.ort import ort_run  # noqa: E402
from tensorbridge.runtime.session import Session  # noqa: E402
from tests.converters.migrate_harness import assert_emittable  # noqa: E402

RNG = np.random.default_rng(0)


def rand(*shape: int, dtype: Any = np.float32, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    if np.issubdtype(np.dtype(dtype), np.integer):
        return RNG.integers(int(low), int(high), size=shape).astype(dtype)
    return RNG.uniform(low, high, size=shape).astype(dtype)


def tf_eager(source: Any, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Reference outputs: Keras ``model(x, training=False)`` or the function called eagerly,
    flattened in tf.nest order (dicts by sorted key), as the converter orders outputs."""
    import keras

    tensors = [tf.constant(a) for a in feeds]
    if isinstance(source, keras.Model | keras.layers.Layer):
        struct = getattr(source, "_inputs_struct", None)
        if isinstance(struct, dict):  # graph inputs are in sorted-key order
            out = source(dict(zip(sorted(struct), tensors)), training=False)
        else:
            out = source(tensors[0] if len(tensors) == 1 else tensors, training=False)
    elif isinstance(source, tf.types.experimental.ConcreteFunction) and not source.structured_input_signature[0]:
        out = source(**dict(zip(sorted(source.structured_input_signature[1]), tensors)))
    else:
        out = source(*tensors)
    return [np.asarray(t) for t in tf.nest.flatten(out)]


def assert_close(got: Sequence[np.ndarray], expected: Sequence[np.ndarray], rtol: float, atol: float,
                 who: str) -> None:
    assert len(got) == len(expected), f"{who}: {len(got)} outputs, eager has {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        g = np.asarray(g)
        assert g.shape == e.shape, f"{who} output {i}: shape {g.shape} != eager {e.shape}"
        assert g.dtype == e.dtype, f"{who} output {i}: dtype {g.dtype} != eager {e.dtype}"
        if e.dtype.kind in "biu":
            np.testing.assert_array_equal(g, e, err_msg=f"{who} output {i}")
        else:
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol,
                                       err_msg=f"{who} output {i}")


def check_tf(source: Any, feeds: Sequence[np.ndarray], *, rtol: float = 1e-4, atol: float = 1e-5,
             other_feeds: Sequence[np.ndarray] | None = None, reference: Any = None, use_ort: bool = True,
             example_inputs: Any = None, **kwargs: Any) -> Graph:
    """Convert ``source`` and check runtime + onnxruntime against TF eager on ``feeds`` (and
    on ``other_feeds``, e.g. another batch size). ``reference`` is the eager callable when
    the source itself is not callable (a path)."""
    graph = to_ir(source, example_inputs, **kwargs)
    verify(graph)
    assert_emittable(graph)  # migration can emit whatever the front-end produces
    model = from_ir(graph)
    onnx.checker.check_model(model, full_check=True)
    session = Session(graph)
    for feed in [feeds] + ([other_feeds] if other_feeds is not None else []):
        expected = tf_eager(reference if reference is not None else source, feed)
        assert_close(session.run(list(feed)), expected, rtol, atol, "tensorbridge runtime")
        if use_ort:
            assert_close(ort_run(model, feed), expected, rtol, atol, "onnxruntime")
    return graph


def check_fn(fn: Callable[..., Any], feeds: Sequence[np.ndarray], **kwargs: Any) -> Graph:
    """Check a function of TF tensors, traced with the feeds' exact shapes and dtypes."""
    sig = [tf.TensorSpec(a.shape, tf.as_dtype(a.dtype), name=f"x{i}") for i, a in enumerate(feeds)]
    return check_tf(tf.function(fn, input_signature=sig), feeds, **kwargs)


def check_layer(make: Callable[[], Any], feeds: Sequence[np.ndarray], **kwargs: Any) -> Graph:
    """Check a Keras layer (or list of layers) in a Sequential model on dynamic-batch inputs."""
    import keras

    layers = make()
    layers = layers if isinstance(layers, list) else [layers]
    x = feeds[0]
    model = keras.Sequential([keras.Input(x.shape[1:], dtype=str(x.dtype)), *layers])
    _randomize(model)
    return check_tf(model, feeds, **kwargs)


def _randomize(model: Any) -> None:
    """Give zero-initialised weights (biases, BN statistics) random values so that they matter."""
    for w in model.weights:
        value = np.asarray(w.numpy())
        if value.dtype.kind == "f":
            low = 0.5 if "variance" in w.path or "gamma" in w.path else -0.5
            w.assign(RNG.uniform(low, low + 1.0, size=value.shape).astype(value.dtype))
