"""Random-output ops cannot match onnx's stored values; check shape, dtype and statistics."""

from __future__ import annotations

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph
from tensorbridge.runtime.session import Session

N = 200_000


def _run(op: str, inputs: list[np.ndarray], attrs: dict, seed: int = 0) -> np.ndarray:
    g = Graph()
    vals = [g.add_input(f"i{k}", DType.from_numpy(x.dtype), x.shape) for k, x in enumerate(inputs)]
    g.set_outputs(g.add_op(op, vals, attrs))
    return Session(g, seed=seed).run(inputs)[0]


def test_bernoulli_mean_matches_probabilities():
    p = np.linspace(0.05, 0.95, 10).repeat(N // 10).astype(np.float32)
    y = _run("Bernoulli", [p], {})
    assert y.dtype == np.float32 and y.shape == p.shape and set(np.unique(y)) <= {0.0, 1.0}
    means = y.reshape(10, -1).mean(axis=1)
    np.testing.assert_allclose(means, np.linspace(0.05, 0.95, 10), atol=0.015)


def test_bernoulli_dtype_attribute_and_seed_reproducible():
    p = np.full(1000, 0.5, np.float64)
    a = _run("Bernoulli", [p], {"dtype": int(DType.INT32), "seed": 3.0})
    b = _run("Bernoulli", [p], {"dtype": int(DType.INT32), "seed": 3.0}, seed=99)
    assert a.dtype == np.int32
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("op,attrs,mean,std", [
    ("RandomNormal", {"shape": [N], "mean": 2.0, "scale": 3.0}, 2.0, 3.0),
    ("RandomUniform", {"shape": [N], "low": -1.0, "high": 3.0}, 1.0, 4 / np.sqrt(12)),
])
def test_generators_statistics(op, attrs, mean, std):
    y = _run(op, [], attrs)
    assert y.shape == (N,) and y.dtype == np.float32
    assert abs(y.mean() - mean) < 0.05 and abs(y.std() - std) < 0.05


def test_like_ops_take_shape_and_dtype_from_input():
    x = np.zeros((300, 400), np.float64)
    y = _run("RandomUniformLike", [x], {})
    assert y.shape == x.shape and y.dtype == np.float64 and 0 <= y.min() and y.max() < 1
    z = _run("RandomNormalLike", [x], {"dtype": int(DType.FLOAT)})
    assert z.dtype == np.float32 and abs(z.std() - 1) < 0.02
