"""Constant's value attributes (ir/generator_math.py: constant_value) against onnx.reference's
Constant on the same attribute, and the error for zero or two value attributes."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from tensorbridge.ir.generator_math import constant_value
from tensorbridge.ir.values import SparseTensor


def _reference_constant(**attrs: object) -> np.ndarray:
    node = helper.make_node("Constant", [], ["y"], **attrs)
    graph = helper.make_graph([node], "constant", [], [helper.make_empty_tensor_value_info("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    return np.asarray(ReferenceEvaluator(model).run(None, {})[0])


@pytest.mark.parametrize(("name", "value"), [
    ("value_float", 2.5), ("value_floats", [0.5, -1.5, 2.0]), ("value_int", -7),
    ("value_ints", [3, 0, -2]), ("value_string", "abc"), ("value_strings", ["a", "bc"])])
def test_scalar_attributes_give_the_reference_array(name: str, value: object) -> None:
    got = constant_value(None, **{name: value})
    want = _reference_constant(**{name: value})
    assert got.shape == want.shape
    if want.dtype.kind in "OUS":
        assert got.dtype == object
        assert [str(v) for v in got.reshape(-1)] == [str(v) for v in want.reshape(-1)]
    else:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_value_and_sparse_value() -> None:
    dense = np.array([[1.0, 0.0, 2.5], [0.0, 0.0, -3.0]], np.float32)
    tensor = helper.make_tensor("v", TensorProto.FLOAT, [2, 3], dense.reshape(-1).tolist())
    np.testing.assert_array_equal(constant_value(dense), _reference_constant(value=tensor))
    sparse = SparseTensor(values=np.array([1.0, 2.5, -3.0], np.float32),
                          indices=np.array([0, 2, 5], np.int64), dims=(2, 3))
    np.testing.assert_array_equal(constant_value(None, sparse), dense)


@pytest.mark.parametrize("attrs", [{}, {"value_int": 1, "value_float": 2.0}])
def test_exactly_one_value_attribute(attrs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="exactly one value attribute"):
        constant_value(None, **attrs)
