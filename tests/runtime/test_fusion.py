"""Plan-time fusions give the same numbers as the unfused ops (checked against a float64
numpy computation) and only fire when the inner values are private to the chain."""

from __future__ import annotations

import math

import numpy as np

from tensorbridge.ir import DType, Graph
from tensorbridge.runtime.session import Session


def _gelu_graph(extra_use: bool = False) -> Graph:
    g = Graph(opset_imports={"": 17})
    x = g.add_input("x", DType.FLOAT, (4, 64))
    w = g.add_constant("w", np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32))
    b = g.add_constant("b", np.linspace(-1, 1, 32, dtype=np.float32))
    h = g.add_op("Add", [g.add_op("MatMul", [x, w])[0], b])[0]
    sq2 = g.add_op("Constant", [], {"value": np.array(math.sqrt(2), np.float32)})[0]
    one = g.add_constant("one", np.array(1.0, np.float32))
    half = g.add_constant("half", np.array(0.5, np.float32))
    e = g.add_op("Erf", [g.add_op("Div", [h, sq2])[0]])[0]
    a = g.add_op("Add", [e, one])[0]
    y = g.add_op("Mul", [g.add_op("Mul", [h, a])[0], half])[0]
    g.set_outputs([y, e] if extra_use else [y])
    return g


def _reference(x: np.ndarray) -> np.ndarray:
    w = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32).astype(np.float64)
    h = x.astype(np.float64) @ w + np.linspace(-1, 1, 32, dtype=np.float32)
    return 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))


def test_gelu_and_bias_chains_fuse_and_match():
    x = np.random.default_rng(1).standard_normal((4, 64)).astype(np.float32)
    s = Session(_gelu_graph())
    assert [st.fn.__name__ for st in s.steps] == ["matmul_add_gelu"]  # in the product's buffer
    np.testing.assert_allclose(s.run([x])[0], _reference(x), rtol=1e-5, atol=1e-5)
    unfused = Session(_gelu_graph(), fuse=False)
    assert len(unfused.steps) == 7
    np.testing.assert_allclose(unfused.run([x])[0], s.run([x])[0], rtol=1e-6, atol=1e-6)


def test_no_fusion_when_an_inner_value_is_observable():
    s = Session(_gelu_graph(extra_use=True))
    assert "gelu" not in [st.fn.__name__ for st in s.steps]
    x = np.ones((4, 64), np.float32)
    y, e = s.run([x])
    np.testing.assert_allclose(y, _reference(x), rtol=1e-5, atol=1e-5)


def _attention_softmax_graph(guard: bool = True) -> Graph:
    """Softmax(scores + mask) with torch's guard for fully masked rows (all -inf: NaN)."""
    g = Graph(opset_imports={"": 17})
    scores = g.add_input("scores", DType.FLOAT, (2, 3, 5))
    mask = g.add_input("mask", DType.FLOAT, (2, 1, 5))
    p = g.add_op("Softmax", [g.add_op("Add", [scores, mask])[0]], {"axis": -1})[0]
    if guard:
        zero = g.add_op("Constant", [], {"value": np.array(0.0, np.float32)})[0]
        p = g.add_op("Where", [g.add_op("IsNaN", [p])[0], zero, p])[0]
    g.set_outputs([p])
    return g


def test_masked_softmax_with_nan_guard_fuses_and_matches():
    rng = np.random.default_rng(2)
    scores = rng.standard_normal((2, 3, 5)).astype(np.float32) * 4
    mask = np.zeros((2, 1, 5), np.float32)
    mask[0, 0, 3:] = -np.inf
    mask[1, 0, :] = -np.inf  # batch 1 fully masked: NaN rows, which the guard zeroes
    z = scores.astype(np.float64) + mask
    with np.errstate(invalid="ignore"):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        expected = np.nan_to_num(e / e.sum(axis=-1, keepdims=True), nan=0.0)
    for guard in (True, False):
        s = Session(_attention_softmax_graph(guard))
        assert [st.fn.__name__ for st in s.steps] == ["softmax_guarded"]
        with np.errstate(invalid="ignore"):
            got = s.run([scores, mask])[0]
        if guard:
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
        else:
            assert np.isnan(got[1]).all()
            np.testing.assert_allclose(got[0], expected[0], rtol=1e-6, atol=1e-7)
    assert len(Session(_attention_softmax_graph(), fuse=False).steps) == 4


def test_residual_add_layer_norm_fuses_and_matches():
    g = Graph(opset_imports={"": 17})
    a = g.add_input("a", DType.FLOAT, (2, 6, 16))
    b = g.add_input("b", DType.FLOAT, (2, 6, 16))
    rng = np.random.default_rng(3)
    scale, bias = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    s_v, b_v = g.add_constant("scale", scale), g.add_constant("bias", bias)
    g.set_outputs(g.add_op("LayerNormalization", [g.add_op("Add", [a, b])[0], s_v, b_v], {"epsilon": 1e-6}))
    x, y = (rng.standard_normal((2, 6, 16)).astype(np.float32) * 3 + 1 for _ in range(2))
    z = x.astype(np.float64) + y
    expected = (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-6) * scale + bias
    s = Session(g)
    assert [st.fn.__name__ for st in s.steps] == ["add_layer_norm"]
    before = (x.copy(), y.copy())
    np.testing.assert_allclose(s.run([x, y])[0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(x, before[0])  # the inputs are not the scratch buffer
    np.testing.assert_array_equal(y, before[1])
