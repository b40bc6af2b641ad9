"""IR -> PyTorch random generators. Their values cannot match the conformance data (drawn
from numpy's generator), so each emitter is checked here on a big sample instead: shape,
dtype, and statistics within a few standard errors of the distribution's; a ``seed``
makes the node reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, verify

pytest.importorskip("torch")

import torch  # noqa: E402

from tensorbridge.converters.pytorch.from_ir import from_ir  # noqa: E402

N = 200_000  # samples per check: a standard error of the mean is ~0.22% of the std
SIGMAS = 5.0  # tolerance in standard errors (a false failure has probability ~6e-7)


@pytest.fixture(autouse=True)
def _deterministic():
    """Unseeded nodes draw from torch's global generator: fix it so runs repeat."""
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    yield
    torch.random.set_rng_state(state)


def _module(op: str, attrs: dict, inputs: tuple[tuple[str, DType, tuple], ...] | list = ()) -> torch.nn.Module:
    g = Graph(op.lower())
    ins = [g.add_input(name, dtype, shape) for name, dtype, shape in inputs]
    (y,) = g.add_op(op, ins, attrs)
    g.set_outputs([y])
    verify(g)
    return from_ir(g)


def _check_mean_std(y: torch.Tensor, mean: float, std: float) -> None:
    v = y.double()
    n = v.numel()
    assert abs(v.mean().item() - mean) < SIGMAS * std / math.sqrt(n)
    # the sample variance's standard error is about std^2 * sqrt(2 / n) (normal) and smaller
    # for the uniform distribution
    assert abs(v.var().item() - std**2) < SIGMAS * std**2 * math.sqrt(2 / n)


@pytest.mark.parametrize(("dtype", "torch_dtype"), [(DType.FLOAT, torch.float32),
                                                    (DType.DOUBLE, torch.float64),
                                                    (DType.FLOAT16, torch.float16)])
def test_random_normal(dtype, torch_dtype):
    y = _module("RandomNormal", {"shape": [400, 500], "dtype": int(dtype), "mean": 2.0,
                                 "scale": 3.0})()
    assert y.shape == (400, 500) and y.dtype == torch_dtype
    _check_mean_std(y, 2.0, 3.0)


def test_random_uniform():
    y = _module("RandomUniform", {"shape": [N], "low": -1.0, "high": 3.0})()
    assert y.shape == (N,) and y.dtype == torch.float32
    assert y.min().item() >= -1.0 and y.max().item() < 3.0
    _check_mean_std(y, 1.0, 4.0 / math.sqrt(12))


def test_random_normal_like_takes_the_input_shape_and_dtype():
    m = _module("RandomNormalLike", {"mean": -1.0, "scale": 0.5},
                [("x", DType.DOUBLE, (N // 100, 100))])
    y = m(torch.zeros(N // 100, 100, dtype=torch.float64))
    assert y.shape == (N // 100, 100) and y.dtype == torch.float64
    _check_mean_std(y, -1.0, 0.5)


def test_random_uniform_like_with_a_dtype():
    m = _module("RandomUniformLike", {"dtype": int(DType.FLOAT), "low": 2.0, "high": 4.0},
                [("x", DType.INT64, (N,))])
    y = m(torch.zeros(N, dtype=torch.int64))
    assert y.shape == (N,) and y.dtype == torch.float32
    assert y.min().item() >= 2.0 and y.max().item() < 4.0
    _check_mean_std(y, 3.0, 2.0 / math.sqrt(12))


def test_bernoulli_rate_per_element():
    m = _module("Bernoulli", {}, [("p", DType.FLOAT, (2, N))])
    p = torch.tensor([[0.1], [0.75]]).expand(2, N).contiguous()
    y = m(p)
    assert y.shape == (2, N) and y.dtype == torch.float32
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
    for row, rate in ((0, 0.1), (1, 0.75)):
        assert abs(y[row].mean().item() - rate) < SIGMAS * math.sqrt(rate * (1 - rate) / N)


def test_bernoulli_dtype_attribute():
    m = _module("Bernoulli", {"dtype": int(DType.INT32)}, [("p", DType.DOUBLE, (4,))])
    y = m(torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64))
    assert y.dtype == torch.int32
    assert y.tolist() == [0, 1, 0, 1]  # probabilities 0 and 1 are certain


def test_multinomial_counts():
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    m = _module("Multinomial", {"sample_size": N, "dtype": int(DType.INT32)},
                [("x", DType.FLOAT, (2, 3))])
    # unnormalised log-probabilities: a row's constant offset must not matter
    y = m(torch.from_numpy(np.log(probs) + np.array([[3.0], [-1.0]])).float())
    assert y.shape == (2, N) and y.dtype == torch.int32
    for row in range(2):
        counts = torch.bincount(y[row].long(), minlength=3).double() / N
        for c in range(3):
            p = probs[row, c]
            assert abs(counts[c].item() - p) < SIGMAS * math.sqrt(p * (1 - p) / N)


@pytest.mark.parametrize(("op", "attrs", "inputs"), [
    ("RandomNormal", {"shape": [3, 4]}, []),
    ("RandomUniform", {"shape": [3, 4]}, []),
    ("RandomNormalLike", {}, [("x", DType.FLOAT, (3, 4))]),
    ("RandomUniformLike", {}, [("x", DType.FLOAT, (3, 4))]),
    ("Bernoulli", {}, [("x", DType.FLOAT, (3, 4))]),
    ("Multinomial", {"sample_size": 5}, [("x", DType.FLOAT, (3, 4))]),
])
def test_seed_makes_a_node_reproducible(op, attrs, inputs):
    args = [torch.full((3, 4), 0.5) for _ in inputs]
    seeded = _module(op, {**attrs, "seed": 7.0}, inputs)
    first = seeded(*args)
    assert torch.equal(first, seeded(*args))
    assert torch.equal(first, _module(op, {**attrs, "seed": 7.0}, inputs)(*args))
    assert not torch.equal(first, _module(op, {**attrs, "seed": 8.0}, inputs)(*args))
