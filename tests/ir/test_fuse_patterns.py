"""fuse_patterns on its own: the spelled-out formulas become the ONNX op (exact and tanh
GELU from opset 20, RMSNormalization from 23, TF's inference batch norm), with the same
numbers; below the op's opset nothing changes; chains that read each other's output
(Gelu(Gelu(x))) fuse both."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, Role, Value, verify
from tensorbridge.ir.passes.fuse_patterns import fuse_patterns
from tensorbridge.runtime.session import Session

RNG = np.random.default_rng(0)


def _c(g: Graph, v: float) -> Value:
    return g.add_constant("c", np.array(v, np.float32))


def _gelu(g: Graph, x: Value, tanh: bool) -> Value:
    if tanh:
        cube = g.add_op("Mul", [g.add_op("Pow", [x, _c(g, 3.0)])[0], _c(g, 0.044715)])[0]
        inner = g.add_op("Mul", [g.add_op("Add", [x, cube])[0], _c(g, math.sqrt(2 / math.pi))])[0]
        t = g.add_op("Tanh", [inner])[0]
    else:
        t = g.add_op("Erf", [g.add_op("Div", [x, _c(g, math.sqrt(2.0))])[0]])[0]
    half_x = g.add_op("Mul", [x, g.add_op("Add", [t, _c(g, 1.0)])[0]])[0]
    return g.add_op("Mul", [half_x, _c(g, 0.5)])[0]


def _check(g: Graph, feed: np.ndarray, changed: int, ops: list[str]) -> None:
    expected = Session(g, fuse=False).run([feed])
    name = g.outputs[0].name
    assert fuse_patterns(g).changed == changed
    verify(g)
    assert sorted(n.op_type for n in g.nodes()) == sorted(ops)
    assert g.outputs[0].name == name
    np.testing.assert_allclose(Session(g, fuse=False).run([feed])[0], expected[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tanh", [False, True])
@pytest.mark.parametrize("opset", [18, 20])
def test_gelu(tanh, opset):
    g = Graph("gelu", opset_imports={"": opset})
    x = g.add_input("x", DType.FLOAT, (2, 5))
    g.set_outputs([_gelu(g, x, tanh)])
    before = sorted(n.op_type for n in g.nodes())
    _check(g, RNG.standard_normal((2, 5)).astype(np.float32), int(opset >= 20),
           ["Gelu"] if opset >= 20 else before)


def test_gelu_of_gelu_fuses_both():
    """The second chain's input is the first chain's output, replaced by the first fusion
    (the pass used to hand the removed value to add_op and crash)."""
    g = Graph("gelu2", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (3, 3))
    g.set_outputs([_gelu(g, _gelu(g, x, tanh=True), tanh=True)])
    _check(g, RNG.standard_normal((3, 3)).astype(np.float32), 2, ["Gelu", "Gelu"])


def test_rms_norm():
    g = Graph("rms", opset_imports={"": 23})
    x = g.add_input("x", DType.FLOAT, (2, 3, 4))
    ms = g.add_op("ReduceMean", [g.add_op("Pow", [x, _c(g, 2.0)])[0], g.add_constant("ax", np.array([-1]))])[0]
    r = g.add_op("Reciprocal", [g.add_op("Sqrt", [g.add_op("Add", [ms, _c(g, 1e-6)])[0]])[0]])[0]
    y = g.add_op("Mul", [x, r])[0]
    w = g.add_constant("norm.weight", RNG.standard_normal(4).astype(np.float32), role=Role.PARAMETER,
                       source_name="norm.weight")
    g.set_outputs([g.add_op("Mul", [y, w])[0]])
    _check(g, RNG.standard_normal((2, 3, 4)).astype(np.float32), 1, ["RMSNormalization"])


def test_tf_batchnorm_channels_last():
    """y = x * m + (beta - mean * m), m = gamma / sqrt(var + eps), channels last (Keras)."""
    g = Graph("bn", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3, 3, 4))

    def p(name: str, data: np.ndarray) -> Value:
        return g.add_constant(name, data.astype(np.float32), role=Role.PARAMETER, source_name=name)

    var = p("bn/var", RNG.uniform(0.5, 2, 4))
    m = g.add_op("Reciprocal", [g.add_op("Sqrt", [g.add_op("Add", [var, _c(g, 1e-3)])[0]])[0]])[0]
    m = g.add_op("Mul", [m, p("bn/gamma", RNG.standard_normal(4))])[0]
    shift = g.add_op("Sub", [p("bn/beta", RNG.standard_normal(4)),
                             g.add_op("Mul", [p("bn/mean", RNG.standard_normal(4)), m])[0]])[0]
    g.set_outputs([g.add_op("Add", [g.add_op("Mul", [x, m])[0], shift])[0]])
    _check(g, RNG.standard_normal((2, 3, 3, 4)).astype(np.float32), 1,
           ["Transpose", "BatchNormalization", "Transpose"])


def test_batchnorm_whose_shift_is_read_elsewhere_is_left_alone():
    """The match may only cover values nobody else reads: fusing removed the shift's Sub
    while another op still read it (the pass crashed)."""
    g = Graph("bn_shared", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3, 5))
    var = g.add_constant("var", RNG.uniform(0.5, 2, 5).astype(np.float32), role=Role.BUFFER, source_name="var")
    m = g.add_op("Reciprocal", [g.add_op("Sqrt", [g.add_op("Add", [var, _c(g, 1e-3)])[0]])[0]])[0]
    m = g.add_op("Mul", [m, g.add_constant("gamma", np.ones(5, np.float32))])[0]
    shift = g.add_op("Sub", [g.add_constant("beta", np.ones(5, np.float32)),
                             g.add_op("Mul", [g.add_constant("mean", np.ones(5, np.float32)), m])[0]])[0]
    y = g.add_op("Add", [g.add_op("Mul", [x, m])[0], shift])[0]
    g.set_outputs([y, g.add_op("Neg", [shift])[0]])
    before = sorted(n.op_type for n in g.nodes())
    _check(g, RNG.standard_normal((2, 3, 5)).astype(np.float32), 0, before)
