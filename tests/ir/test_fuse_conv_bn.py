"""fuse_conv_batchnorm on its own: an inference BatchNormalization folds into the Conv
feeding it (same numbers); the folded weight keeps the conv weight's name, role and source
key; a conv without bias gets a named bias (the BN's shift), so equal biases of fresh BNs
stay separate weights after CSE; a conv whose output is also read elsewhere stays apart."""

from __future__ import annotations

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, Role, Value, verify
from tensorbridge.ir.passes import eliminate_common_subexpressions, eliminate_dead_code
from tensorbridge.ir.passes.fuse_conv_bn import fuse_conv_batchnorm
from tensorbridge.runtime.session import Session

RNG = np.random.default_rng(0)


def _param(g: Graph, name: str, data: np.ndarray, role: Role = Role.PARAMETER) -> Value:
    return g.add_constant(name, np.asarray(data, np.float32), role=role, source_name=name)


def _conv_bn(g: Graph, x: Value, name: str, c_in: int, c_out: int, bias: bool, fresh: bool = False) -> Value:
    ins = [x, _param(g, f"{name}.weight", RNG.standard_normal((c_out, c_in, 3, 3)))]
    if bias:
        ins.append(_param(g, f"{name}.bias", RNG.standard_normal(c_out)))
    [y] = g.add_op("Conv", ins, {"pads": [1, 1, 1, 1]}, name=name)
    zeros, ones = np.zeros(c_out), np.ones(c_out)
    scale, beta = (ones, zeros) if fresh else (RNG.uniform(0.5, 2, c_out), RNG.standard_normal(c_out))
    mean, var = (zeros, ones) if fresh else (RNG.standard_normal(c_out), RNG.uniform(0.5, 2, c_out))
    [y] = g.add_op("BatchNormalization", [
        y, _param(g, f"{name}_bn.weight", scale), _param(g, f"{name}_bn.bias", beta),
        _param(g, f"{name}_bn.running_mean", mean, Role.BUFFER),
        _param(g, f"{name}_bn.running_var", var, Role.BUFFER)], {"epsilon": 1e-3})
    return y


@pytest.mark.parametrize("bias", [True, False])
def test_batchnorm_folds_into_the_conv(bias):
    g = Graph("conv_bn", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3, 5, 5))
    g.set_outputs([_conv_bn(g, x, "conv", 3, 4, bias)])
    out_name = g.outputs[0].name
    feed = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)
    expected = Session(g).run([feed])[0]
    assert fuse_conv_batchnorm(g).changed == 1
    eliminate_dead_code(g)
    verify(g)
    assert [n.op_type for n in g.nodes()] == ["Conv"] and g.outputs[0].name == out_name
    np.testing.assert_allclose(Session(g).run([feed])[0], expected, rtol=1e-5, atol=1e-5)
    w, b = g.value("conv.weight"), g.value("conv.bias")
    assert w.role is Role.PARAMETER and w.source_name == "conv.weight"
    assert b.role is Role.PARAMETER and b.source_name == ("conv.bias" if bias else "conv_bn.bias")


def test_equal_folded_biases_stay_separate_weights():
    """Three bias-less convs with fresh BNs: equal (zero) folded biases. They were anonymous
    constants that CSE merged into one tensor, which an ONNX -> PyTorch migration then made
    one parameter tied across the three convs."""
    g = Graph("three", opset_imports={"": 20})
    y = g.add_input("x", DType.FLOAT, (1, 2, 5, 5))
    for i in range(3):
        y = _conv_bn(g, y, f"conv{i}", 2, 2, bias=False, fresh=True)
    g.set_outputs([y])
    assert fuse_conv_batchnorm(g).changed == 3
    eliminate_common_subexpressions(g)
    eliminate_dead_code(g)
    verify(g)
    biases = [g.node_inputs(n)[2] for n in g.nodes()]
    assert [b.name for b in biases] == ["conv0.bias", "conv1.bias", "conv2.bias"]
    assert all(np.array_equal(b.const_array(), np.zeros(2)) for b in biases)


def test_conv_read_elsewhere_is_left_alone():
    g = Graph("kept", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (1, 2, 5, 5))
    y = _conv_bn(g, x, "a", 2, 2, bias=True)
    conv_out = g.node_inputs(g.producer(y))[0]
    g.set_outputs([y, g.add_op("Relu", [conv_out])[0]])  # the un-normalised output is used too
    assert fuse_conv_batchnorm(g).changed == 0
