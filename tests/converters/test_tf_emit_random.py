"""IR -> TensorFlow random generators. Their values cannot match the conformance data (drawn
from numpy's generator), so each emitter is checked here on a big sample: shape, dtype and
statistics within a few standard errors of the distribution's; a ``seed`` makes the node
give the same values on every call."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, verify

tf = pytest.importorskip("tensorflow")

from tensorbridge.converters.tensorflow.from_ir import from_ir  # noqa: E402

N = 200_000  # samples per check: a standard error of the mean is ~0.22% of the std
SIGMAS = 5.0  # tolerance in standard errors (a false failure has probability ~6e-7)


@pytest.fixture(autouse=True)
def _deterministic():
    """Unseeded nodes draw from TF's global generator: fix its seed so runs repeat."""
    tf.random.set_seed(0)


def _module(op: str, attrs: dict, inputs: list[tuple[str, DType, tuple]] | None = None):
    g = Graph(op.lower())
    ins = [g.add_input(name, dtype, shape) for name, dtype, shape in inputs or []]
    (y,) = g.add_op(op, ins, attrs)
    g.set_outputs([y])
    verify(g)
    return from_ir(g)


def _check_mean_std(y, mean: float, std: float) -> None:
    v = np.asarray(y, dtype=np.float64)
    n = v.size
    assert abs(v.mean() - mean) < SIGMAS * std / math.sqrt(n)
    # the sample variance's standard error is about std^2 * sqrt(2 / n) (normal), smaller
    # for the uniform distribution
    assert abs(v.var() - std**2) < SIGMAS * std**2 * math.sqrt(2 / n)


@pytest.mark.parametrize(("dtype", "tf_dtype"), [(DType.FLOAT, tf.float32), (DType.DOUBLE, tf.float64),
                                                 (DType.FLOAT16, tf.float16)])
def test_random_normal(dtype, tf_dtype):
    y = _module("RandomNormal", {"shape": [400, 500], "dtype": int(dtype), "mean": 2.0,
                                 "scale": 3.0})()
    assert y.shape == (400, 500) and y.dtype == tf_dtype
    _check_mean_std(y.numpy(), 2.0, 3.0)


@pytest.mark.parametrize(("dtype", "tf_dtype"), [(DType.FLOAT, tf.float32), (DType.DOUBLE, tf.float64)])
def test_random_uniform(dtype, tf_dtype):
    y = _module("RandomUniform", {"shape": [400, 500], "dtype": int(dtype), "low": -1.0,
                                  "high": 3.0})()
    v = y.numpy()
    assert y.shape == (400, 500) and y.dtype == tf_dtype
    assert v.min() >= -1.0 and v.max() < 3.0
    _check_mean_std(v, 1.0, 4.0 / math.sqrt(12.0))


def test_random_normal_like_keeps_shape_and_dtype():
    m = _module("RandomNormalLike", {"mean": -1.0, "scale": 0.5},
                [("x", DType.DOUBLE, (N // 100, 100))])
    y = m(tf.zeros([N // 100, 100], tf.float64))
    assert y.shape == (N // 100, 100) and y.dtype == tf.float64
    _check_mean_std(y.numpy(), -1.0, 0.5)


def test_random_uniform_like_with_dtype():
    m = _module("RandomUniformLike", {"dtype": int(DType.FLOAT)}, [("x", DType.DOUBLE, (N,))])
    y = m(tf.zeros([N], tf.float64))
    assert y.shape == (N,) and y.dtype == tf.float32
    _check_mean_std(y.numpy(), 0.5, 1.0 / math.sqrt(12.0))


def test_seeded_nodes_repeat():
    m = _module("RandomNormal", {"shape": [1000], "seed": 7.0})
    np.testing.assert_array_equal(m().numpy(), m().numpy())
    other = _module("RandomNormal", {"shape": [1000], "seed": 8.0})
    assert not np.array_equal(m().numpy(), other().numpy())


def test_unseeded_nodes_draw_anew():
    m = _module("RandomUniform", {"shape": [1000]})
    assert not np.array_equal(m().numpy(), m().numpy())


@pytest.mark.parametrize("seed", [None, 3.0])
def test_bernoulli(seed):
    attrs = {} if seed is None else {"seed": seed}
    m = _module("Bernoulli", attrs, [("p", DType.FLOAT, (N,))])
    p = np.full(N, 0.3, np.float32)
    p[: N // 10] = 0.0
    p[N // 10: N // 5] = 1.0
    y = m(tf.constant(p)).numpy()
    assert y.shape == (N,) and y.dtype == np.float32
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert not y[: N // 10].any() and y[N // 10: N // 5].all()
    rest = y[N // 5:]
    assert abs(rest.mean() - 0.3) < SIGMAS * math.sqrt(0.3 * 0.7 / rest.size)


def test_bernoulli_dtype_attribute():
    m = _module("Bernoulli", {"dtype": int(DType.INT32)}, [("p", DType.DOUBLE, (10,))])
    y = m(tf.constant(np.full(10, 0.5)))
    assert y.dtype == tf.int32 and y.shape == (10,)


@pytest.mark.parametrize("dtype", [DType.INT32, DType.INT64])
def test_multinomial(dtype):
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    logits = np.log(np.maximum(probs, 1e-30)).astype(np.float32)
    m = _module("Multinomial", {"sample_size": N // 2, "dtype": int(dtype)},
                [("x", DType.FLOAT, (2, 3))])
    y = m(tf.constant(logits))
    assert y.shape == (2, N // 2) and y.dtype == (tf.int32 if dtype == DType.INT32 else tf.int64)
    counts = np.stack([np.bincount(row, minlength=3) for row in y.numpy()]) / (N // 2)
    se = np.sqrt(probs * (1 - probs) / (N // 2))
    assert np.all(np.abs(counts - probs) <= SIGMAS * se + 1e-12)
