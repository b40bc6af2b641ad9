"""TF GatherV2 with batch_dims > 0 (ops_index.py lowers it to a GatherND with batch_dims,
moving the gathered axis next to the batch axes): runtime and onnxruntime against TF eager
for several (axis, batch_dims) pairs, a Keras Lambda as real models write it, and the
conversion to ONNX validated by tb.check."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import tensorbridge as tb  # noqa: E402
from tests.converters.tensorflow_harness import check_fn, rand  # noqa: E402

RNG = np.random.default_rng(7)

# params shape, indices shape, axis, batch_dims
_CASES = [
    ((2, 3, 5, 4), (2, 3, 6), 2, 2),   # the Keras Lambda case: tf.gather(x, idx, axis=2, batch_dims=2)
    ((2, 3, 5, 4), (2, 6), 1, 1),      # axis == batch_dims
    ((2, 3, 5, 4), (2, 6), 2, 1),      # axis > batch_dims: axis 1 is passed over
    ((2, 3, 5, 4), (2, 2, 3), 3, 1),   # indices of rank 3, gather the last axis
    ((2, 3, 5), (2, 3), -1, -1),       # negative axis and batch_dims
    ((2, 3, 5, 4), (2, 3, 2, 2), 3, 2),
]


@pytest.mark.parametrize(("pshape", "ishape", "axis", "batch_dims"), _CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_gather_batch_dims(pshape, ishape, axis, batch_dims, index_dtype):
    size = pshape[axis]
    indices = RNG.integers(0, size, size=ishape).astype(index_dtype)
    graph = check_fn(lambda x, i: tf.gather(x, i, axis=axis, batch_dims=batch_dims), [rand(*pshape), indices])
    assert "GatherND" in {n.op_type for n in graph.nodes()}


def test_gather_batch_dims_in_keras_lambda_converts_to_onnx():
    import keras

    x = keras.Input((3, 5, 4))
    idx = keras.Input((3, 6), dtype="int32")
    y = keras.layers.Lambda(lambda t: tf.gather(t[0], t[1], axis=2, batch_dims=2),
                            output_shape=(3, 6, 4))([x, idx])
    model = keras.Model([x, idx], keras.layers.Dense(2)(y))
    feeds = (rand(2, 3, 5, 4), RNG.integers(0, 5, size=(2, 3, 6)).astype(np.int32))
    report = tb.check(model, feeds, to="onnx")
    assert report.ok, report
    expected = model(list(feeds), training=False).numpy()
    np.testing.assert_allclose(tb.run(tb.convert(model, feeds, to="onnx"), *feeds)[0], expected,
                               rtol=1e-5, atol=1e-5)


def test_gather_batch_dims_from_a_variable():
    """tf.gather with batch_dims on a variable's value (traced as ReadVariableOp + GatherV2;
    the table becomes a frozen constant)."""
    table = tf.Variable(rand(2, 5, 3))

    def fn(i):
        return tf.gather(table, i, axis=1, batch_dims=1)

    graph = check_fn(fn, [RNG.integers(0, 5, size=(2, 4)).astype(np.int64)])
    assert "GatherND" in {n.op_type for n in graph.nodes()}
