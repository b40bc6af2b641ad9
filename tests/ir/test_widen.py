"""widen_float32 on its own: the float64 twin of a float32 graph (types, initializers,
tensor attributes, Cast targets, ops whose output type defaults to float32) computes the
same at float32 precision; outputs the schema fixes at float32 stay float32."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir import DType, Graph, TensorType
from tensorbridge.ir.passes.widen import widen_float32
from tensorbridge.runtime.session import Session


def test_twin_is_float64_and_computes_the_same():
    g = Graph("wide", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    w = g.add_constant("w", np.linspace(-1, 1, 9, dtype=np.float32).reshape(3, 3))
    y = g.add_op("MatMul", [x, w], output_types=[TensorType(DType.FLOAT, (2, 3))])[0]
    y = g.add_op("Add", [y, g.add_op("Constant", [], {"value": np.array(0.5, np.float32)})[0]])[0]
    i = g.add_op("Cast", [y], {"to": int(DType.INT64)})[0]
    f = g.add_op("Cast", [i], {"to": int(DType.FLOAT)})[0]
    win = g.add_op("HannWindow", [g.add_constant("n", np.array(4, np.int64))])[0]  # float by default
    g.set_outputs([g.add_op("Mul", [y, f])[0], win])
    feed = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    narrow = Session(g).run([feed])
    widen_float32(g)
    assert g.value("w").const_array().dtype == np.float64 and x.type == TensorType(DType.DOUBLE, (2, 3))
    wide = Session(g).run([feed.astype(np.float64)])
    for a, b in zip(narrow, wide):
        assert b.dtype == np.float64
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)


def test_schema_fixed_float_outputs_stay_float32():
    g = Graph("quant", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (6,))
    y, scale, zero = g.add_op("DynamicQuantizeLinear", [x], n_outputs=3,
                              output_types=[TensorType(DType.UINT8, (6,)), TensorType(DType.FLOAT, ()),
                                            TensorType(DType.UINT8, ())])
    g.set_outputs([y, scale, zero])
    widen_float32(g)
    assert x.dtype is DType.DOUBLE and scale.dtype is DType.FLOAT
    out = Session(g).run([np.linspace(-1, 1, 6)])
    assert out[1].dtype == np.float32
