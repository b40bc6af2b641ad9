"""Planned execution: kernel resolution, freeing after last use, capture, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, KernelError, UnsupportedOpError
from tensorbridge.runtime.session import Session


def _chain() -> Graph:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, (4,))
    a = g.add_op("Exp", [x], name="a")[0]
    b = g.add_op("Neg", [a], name="b")[0]
    c = g.add_op("Add", [b, x], name="c")[0]
    g.set_outputs([c])
    return g


def test_plan_frees_each_intermediate_after_its_last_use():
    s = Session(_chain())
    slot = s._slot  # noqa: SLF001 - white-box check of the plan
    frees = [{n for n, i in slot.items() if i in st.free} for st in s.steps]
    assert frees == [set(), {"a"}, {"b", "x"}]


def test_constant_subgraphs_are_folded_at_plan_time():
    g = Graph()
    x = g.add_input("x", DType.FLOAT, (3,))
    c = g.add_constant("c", np.array([1.0, 4.0, 9.0], np.float32))
    r = g.add_op("Sqrt", [c])[0]
    g.set_outputs(g.add_op("Mul", [x, r]))
    s = Session(g)
    assert [st.node.op_type for st in s.steps] == ["Mul"]
    np.testing.assert_allclose(s.run([np.ones(3, np.float32)])[0], [1, 2, 3])
    assert [st.node.op_type for st in Session(g, fold_constants=False).steps] == ["Sqrt", "Mul"]


def test_capture_records_intermediates_in_one_run():
    x = np.array([0.0, 1.0, -1.0, 2.0], np.float32)
    s = Session(_chain())
    (y,) = s.run([x], capture=True)
    np.testing.assert_allclose(s.captured["a"], np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(s.captured["b"], -np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(y, x - np.exp(x), rtol=1e-6)
    s.run([x], capture={"b"})
    assert set(s.captured) == {"b"}


def test_inputs_by_name_and_clear_errors():
    s = Session(_chain())
    x = np.ones(4, np.float32)
    np.testing.assert_allclose(s.run({"x": x})[0], 1 - np.e, rtol=1e-6)
    with pytest.raises(Exception, match="unknown input name"):
        s.run({"y": x})
    with pytest.raises(Exception, match="missing input"):
        s.run([])


def test_kernel_failure_names_node_and_shapes():
    g = Graph()
    a = g.add_input("a", DType.FLOAT, (2, 3))
    b = g.add_input("b", DType.FLOAT, (4, 5))
    g.set_outputs(g.add_op("MatMul", [a, b], name="proj"))
    with pytest.raises(KernelError, match=r"'proj' \(MatMul\).*float32\[2, 3\], float32\[4, 5\]"):
        Session(g).run([np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)])


def test_missing_kernel_lists_all_nodes():
    g = Graph(opset_imports={"": 18, "com.acme": 1})
    x = g.add_input("x", DType.FLOAT, (2,))
    y = g.add_op("Frob", [x], domain="com.acme", name="f1")[0]
    g.set_outputs(g.add_op("Frob", [y], domain="com.acme", name="f2"))
    with pytest.raises(Exception) as e:
        Session(g)
    assert "f1" in str(e.value) and "f2" in str(e.value)
    assert all(isinstance(x, UnsupportedOpError) for x in e.value.errors)


def test_inputs_are_checked_against_declared_types():
    from tensorbridge.runtime.session import InputError

    s = Session(_chain())  # x: float[4]
    with pytest.raises(InputError, match=r"input 'x'.*dtype float64, expected float32"):
        s.run([np.ones(4)])
    with pytest.raises(InputError, match=r"input 'x'.*rank 2 .*expected rank 1"):
        s.run([np.ones((1, 4), np.float32)])
    with pytest.raises(InputError, match=r"input 'x'.*shape \[5\], expected \[4\]"):
        s.run([np.ones(5, np.float32)])
    with pytest.raises(InputError, match="got 2 inputs"):
        s.run([np.ones(4, np.float32)] * 2)


def test_check_finite_names_the_first_nan_producing_node():
    g = Graph()
    x = g.add_input("x", DType.FLOAT, (2,))
    lg = g.add_op("Log", [x], name="log_of_x")[0]
    g.set_outputs(g.add_op("Relu", [lg], name="after"))
    x_val = np.array([1.0, -1.0], np.float32)
    with np.errstate(invalid="ignore"):
        assert np.isnan(Session(g).run([x_val])[0]).any()
        with pytest.raises(KernelError, match=r"'log_of_x' \(Log\).*NaN/inf"):
            Session(g, check_finite=True).run([x_val])
